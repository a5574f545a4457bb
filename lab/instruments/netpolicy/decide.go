package netpolicy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/nodelab/nodelab/lab/podexec"
)

// Attempt is one new TCP connection from the probe client to the probe
// server, made while the deny-all ingress policy exists.
type Attempt struct {
	// At is when the attempt started, measured from the policy's creation.
	At time.Duration
	// Connected is true when the connection was established.
	Connected bool
	// Failure is agnhost connect's error class (TIMEOUT, REFUSED, OTHER)
	// when the connection was not established.
	Failure string
}

// Decide returns the verdict that attempts, in the order they were made,
// support, and false while they support none yet. The first failed attempt
// means the policy is enforced; a successful attempt that started at or
// after grace means it is not. Successes before grace decide nothing: an
// enforcer takes a moment to program the dataplane.
func Decide(attempts []Attempt, grace time.Duration) (Verdict, bool) {
	for i, a := range attempts {
		if !a.Connected {
			return Verdict{Enforced: true, Reason: fmt.Sprintf(
				"the lab's pod network enforces NetworkPolicy: a deny-all ingress policy closed new TCP connections to the probe server after %s (agnhost connect: %s)",
				round(a.At), a.Failure)}, true
		}
		if a.At >= grace {
			return Verdict{Enforced: false, Reason: fmt.Sprintf(
				"the lab's pod network does not enforce NetworkPolicy: a deny-all ingress policy left new TCP connections to the probe server open for %s (%d new connections, all accepted)",
				round(a.At), i+1)}, true
		}
	}
	return Verdict{}, false
}

// round keeps a tenth of a second (roundTo), enough to tell an enforcer's delay.
func round(d time.Duration) time.Duration { return d.Round(roundTo) }

// outcome is what one `agnhost connect` exec amounted to.
type outcome int

const (
	// connected: the TCP handshake completed.
	connected outcome = iota
	// refused: the connection failed on the network (TIMEOUT, REFUSED, OTHER).
	refused
	// transient: the exec itself failed (API server, kubelet); try again.
	transient
	// broken: agnhost connect cannot test anything (bad arguments, DNS,
	// missing binary): the probe is broken, not the network.
	broken
)

// networkFailures are agnhost connect's error classes that are network
// answers (test/images/agnhost/connect): each is printed as the first word
// of its standard error, and the command exits 1.
var networkFailures = []string{"TIMEOUT", "REFUSED", "OTHER"}

// classify reads the error of `agnhost connect` run through podexec and
// returns its outcome and, unless connected, a short detail.
func classify(err error) (outcome, string) {
	if err == nil {
		return connected, ""
	}
	var exit utilexec.ExitError
	if !errors.As(err, &exit) {
		return transient, err.Error()
	}
	var stderr string
	if pe := (*podexec.Error)(nil); errors.As(err, &pe) {
		stderr = pe.Stderr
	}
	line, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
	class, _, _ := strings.Cut(line, ":")
	if exit.ExitStatus() == 1 && slices.Contains(networkFailures, class) {
		return refused, class
	}
	if line == "" {
		line = err.Error()
	}
	return broken, fmt.Sprintf("exit %d: %s", exit.ExitStatus(), line)
}

// controlPlaneLabel marks kubeadm's control-plane nodes.
const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

// pickNode returns the node to run the probe pods on: a Ready, schedulable
// node without NoSchedule or NoExecute taints, a worker if there is one,
// the first by name. The error says why each node was passed over.
func pickNode(nodes []corev1.Node) (string, error) {
	var workers, others, rejected []string
	for _, n := range nodes {
		if why := unschedulable(&n); why != "" {
			rejected = append(rejected, n.Name+": "+why)
			continue
		}
		if _, cp := n.Labels[controlPlaneLabel]; cp {
			others = append(others, n.Name)
		} else {
			workers = append(workers, n.Name)
		}
	}
	slices.Sort(workers)
	slices.Sort(others)
	if len(workers) > 0 {
		return workers[0], nil
	}
	if len(others) > 0 {
		return others[0], nil
	}
	if len(nodes) == 0 {
		return "", errors.New("the cluster has no nodes")
	}
	return "", fmt.Errorf("no node can run the probe pods (%s)", strings.Join(rejected, "; "))
}

// unschedulable says why a probe pod without tolerations cannot run on n,
// or "" if it can.
func unschedulable(n *corev1.Node) string {
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return "not Ready"
	}
	if n.Spec.Unschedulable {
		return "cordoned"
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return fmt.Sprintf("taint %s:%s", t.Key, t.Effect)
		}
	}
	return ""
}
