package labsmoke

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
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

// eventually retries check until it passes or the Network timeout ends,
// returning the last observation.
func (r *Runbook) eventually(ctx context.Context, check func(context.Context) error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, r.env.T().Poll, r.env.T().Network, true, func(ctx context.Context) (bool, error) {
		last = check(ctx)
		return last == nil, nil
	})
	if err != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("within %s: %w", r.env.T().Network, last)
	}
	return nil
}

func waitingReason(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil {
			return cs.State.Waiting.Reason + ": " + cs.State.Waiting.Message
		}
	}
	return ""
}
