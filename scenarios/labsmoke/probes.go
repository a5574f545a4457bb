package labsmoke

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/wait"
)

// dial asks probe `from` (through the API server's pod proxy) to send
// `tries` HTTP "hostname" requests to host:port, and returns the answers.
func (r *Runbook) dial(ctx context.Context, from, host, port string, tries int) ([]string, error) {
	raw, err := r.Lab.Client.CoreV1().Pods(r.Namespace).ProxyGet("http", from, "8080", "dial", map[string]string{
		"request": "hostname", "protocol": "http", "host": host, "port": port, "tries": fmt.Sprint(tries),
	}).DoRaw(ctx)
	var out struct {
		Responses []string `json:"responses"`
		Errors    []string `json:"errors"`
	}
	if jerr := json.Unmarshal(raw, &out); jerr != nil {
		if err != nil {
			return nil, fmt.Errorf("dial %s:%s from %s: %w", host, port, from, err)
		}
		return nil, fmt.Errorf("dial %s:%s from %s: decode %q: %w", host, port, from, raw, jerr)
	}
	if len(out.Errors) > 0 && len(out.Responses) == 0 {
		return nil, fmt.Errorf("dial %s:%s from %s: %s", host, port, from, strings.Join(out.Errors, "; "))
	}
	return out.Responses, nil
}

// network is a wait for traffic to flow: the shared Network timeout,
// polled at the shared Poll interval.
func (r *Runbook) network(what string) wait.Within {
	return wait.Within{What: what, Timeout: r.env.T().Network, Poll: r.env.T().Poll}
}

// readyProbes returns the Ready probes among pods and, for the error
// message, the state of each pod.
func readyProbes(pods []corev1.Pod) (ready []corev1.Pod, seen string) {
	var states []string
	for _, p := range pods {
		states = append(states, fmt.Sprintf("%s %s on %q ready=%v %s", p.Name, p.Status.Phase, p.Spec.NodeName, lab.PodCondition(&p, corev1.PodReady), waitingReason(&p)))
		if lab.PodCondition(&p, corev1.PodReady) {
			ready = append(ready, p)
		}
	}
	return ready, strings.Join(states, "; ")
}

// waitingReason is why a pod's first waiting container waits ("" if none).
func waitingReason(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil {
			return cs.State.Waiting.Reason + ": " + cs.State.Waiting.Message
		}
	}
	return ""
}
