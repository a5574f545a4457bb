package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/nodelab/nodelab/lab/podexec"
)

func ok(at time.Duration) Attempt { return Attempt{At: at, Connected: true} }
func failed(at time.Duration, class string) Attempt {
	return Attempt{At: at, Failure: class}
}

func TestDecide(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name     string
		attempts []Attempt
		grace    time.Duration
		done     bool
		enforced bool
		reason   string
	}{
		{name: "no attempts yet", grace: 20 * s},
		{name: "successes within grace decide nothing",
			attempts: []Attempt{ok(0), ok(5 * s), ok(19900 * time.Millisecond)}, grace: 20 * s},
		{name: "success at grace: not enforced",
			attempts: []Attempt{ok(0), ok(10 * s), ok(20 * s)}, grace: 20 * s, done: true,
			reason: "the lab's pod network does not enforce NetworkPolicy: a deny-all ingress policy left new TCP connections to the probe server open for 20s (3 new connections, all accepted)"},
		{name: "success after grace, time rounded",
			attempts: []Attempt{ok(0), ok(20340 * time.Millisecond)}, grace: 20 * s, done: true,
			reason: "the lab's pod network does not enforce NetworkPolicy: a deny-all ingress policy left new TCP connections to the probe server open for 20.3s (2 new connections, all accepted)"},
		{name: "first attempt fails: enforced at once",
			attempts: []Attempt{failed(120*time.Millisecond, "TIMEOUT")}, grace: 20 * s, done: true, enforced: true,
			reason: "the lab's pod network enforces NetworkPolicy: a deny-all ingress policy closed new TCP connections to the probe server after 100ms (agnhost connect: TIMEOUT)"},
		{name: "enforcer takes a while",
			attempts: []Attempt{ok(0), ok(1 * s), ok(2 * s), failed(3140*time.Millisecond, "REFUSED")}, grace: 20 * s, done: true, enforced: true,
			reason: "the lab's pod network enforces NetworkPolicy: a deny-all ingress policy closed new TCP connections to the probe server after 3.1s (agnhost connect: REFUSED)"},
		{name: "a failure after grace is too late to matter: the success at grace decided first",
			attempts: []Attempt{ok(0), ok(21 * s), failed(22*s, "TIMEOUT")}, grace: 20 * s, done: true,
			reason: "the lab's pod network does not enforce NetworkPolicy: a deny-all ingress policy left new TCP connections to the probe server open for 21s (2 new connections, all accepted)"},
		{name: "a late first failure still counts when no success reached grace",
			attempts: []Attempt{ok(0), failed(25*s, "OTHER")}, grace: 20 * s, done: true, enforced: true,
			reason: "the lab's pod network enforces NetworkPolicy: a deny-all ingress policy closed new TCP connections to the probe server after 25s (agnhost connect: OTHER)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, done := Decide(tt.attempts, tt.grace)
			if done != tt.done {
				t.Fatalf("done = %v, want %v (verdict %+v)", done, tt.done, v)
			}
			if v.Enforced != tt.enforced || v.Reason != tt.reason {
				t.Errorf("verdict = %+v\nwant    {Enforced:%v Reason:%s}", v, tt.enforced, tt.reason)
			}
		})
	}
}

func execErr(code int, stderr string) error {
	return &podexec.Error{
		Target:  podexec.Target{Namespace: "ns", Pod: "client", Container: "client"},
		Command: []string{"/agnhost", "connect"},
		Stderr:  stderr,
		Err:     utilexec.CodeExitError{Err: fmt.Errorf("command terminated with non-zero exit code: %d", code), Code: code},
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		out    outcome
		detail string
	}{
		{"connected", nil, connected, ""},
		{"timeout", execErr(1, "TIMEOUT\n"), refused, "TIMEOUT"},
		{"refused", execErr(1, "REFUSED\n"), refused, "REFUSED"},
		{"other network error", execErr(1, "OTHER: dial tcp 10.244.1.5:8080: connect: no route to host\n"), refused, "OTHER"},
		{"dns is the probe's fault", execErr(1, "DNS: lookup x: no such host\n"), broken, "exit 1: DNS: lookup x: no such host"},
		{"bad arguments", execErr(1, "UNKNOWN: missing port in address\n"), broken, "exit 1: UNKNOWN: missing port in address"},
		{"no agnhost binary", execErr(127, ""), broken, "exit 127: exec \"/agnhost connect\" in ns/client/client: command terminated with non-zero exit code: 127"},
		{"exec transport", &podexec.Error{Err: errors.New("upgrade connection: 500")}, transient, "exec \"\" in //: upgrade connection: 500"},
		{"context", context.DeadlineExceeded, transient, "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, detail := classify(tt.err)
			if out != tt.out || detail != tt.detail {
				t.Errorf("classify = (%d, %q), want (%d, %q)", out, detail, tt.out, tt.detail)
			}
		})
	}
}

func node(name string, ready bool, mod func(*corev1.Node)) corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n := corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}},
	}
	if mod != nil {
		mod(&n)
	}
	return n
}

func controlPlane(tainted bool) func(*corev1.Node) {
	return func(n *corev1.Node) {
		n.Labels[controlPlaneLabel] = ""
		if tainted {
			n.Spec.Taints = []corev1.Taint{{Key: controlPlaneLabel, Effect: corev1.TaintEffectNoSchedule}}
		}
	}
}

func TestPickNode(t *testing.T) {
	tests := []struct {
		name  string
		nodes []corev1.Node
		want  string
		err   string
	}{
		{name: "kind with workers: first worker by name", nodes: []corev1.Node{
			node("lab-control-plane", true, controlPlane(true)), node("lab-worker2", true, nil), node("lab-worker", true, nil)},
			want: "lab-worker"},
		{name: "a worker is preferred to an untainted control plane", nodes: []corev1.Node{
			node("lab-control-plane", true, controlPlane(false)), node("lab-worker", true, nil)},
			want: "lab-worker"},
		{name: "single-node kind: untainted control plane", nodes: []corev1.Node{
			node("solo-control-plane", true, controlPlane(false))},
			want: "solo-control-plane"},
		{name: "not ready, cordoned and NoExecute workers are passed over", nodes: []corev1.Node{
			node("a", false, nil),
			node("b", true, func(n *corev1.Node) { n.Spec.Unschedulable = true }),
			node("c", true, func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectNoExecute}}
			}),
			node("d", true, func(n *corev1.Node) {
				n.Spec.Taints = []corev1.Taint{{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}}
			})},
			want: "d"},
		{name: "nothing schedulable", nodes: []corev1.Node{
			node("lab-control-plane", true, controlPlane(true)), node("lab-worker", false, nil)},
			err: "no node can run the probe pods (lab-control-plane: taint node-role.kubernetes.io/control-plane:NoSchedule; lab-worker: not Ready)"},
		{name: "no nodes", err: "the cluster has no nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickNode(tt.nodes)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("pickNode error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("pickNode = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestProbeObjects(t *testing.T) {
	pods := probePods()
	if len(pods) != 2 || pods[0].Name != serverName || pods[1].Name != clientName {
		t.Fatalf("probePods = %v, want server first, then client", []string{pods[0].Name, pods[1].Name})
	}
	if got := strings.Join(pods[0].Spec.Containers[0].Args, " "); got != "netexec --http-port=8080" {
		t.Errorf("server args = %q", got)
	}
	if pods[1].Spec.Containers[0].Name != clientName {
		t.Errorf("client container is %q; podexec targets %q", pods[1].Spec.Containers[0].Name, clientName)
	}
	pol := denyAllIngress()
	if len(pol.Spec.Ingress) != 0 || len(pol.Spec.PolicyTypes) != 1 || pol.Spec.PolicyTypes[0] != "Ingress" {
		t.Errorf("policy is not deny-all ingress: %+v", pol.Spec)
	}
	sel := pol.Spec.PodSelector.MatchLabels
	if len(sel) != 1 || sel[roleLabel] != pods[0].Labels[roleLabel] || sel[roleLabel] == pods[1].Labels[roleLabel] {
		t.Errorf("policy selects %v; server labels %v, client labels %v", sel, pods[0].Labels, pods[1].Labels)
	}
}

func TestOptionsDefaults(t *testing.T) {
	var o ProbeOptions
	if err := o.defaults(); err != nil || o.Grace != DefaultGrace || o.Timeout != DefaultTimeout || o.Log == nil {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	o = ProbeOptions{Grace: -time.Second}
	if err := o.defaults(); err == nil {
		t.Error("negative grace accepted")
	}
}

func TestCacheProbesOncePerKey(t *testing.T) {
	c := &cache{entries: map[string]*entry{}}
	var runs atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	probe := func() (Verdict, error) {
		if runs.Add(1) == 1 {
			close(started)
			<-release // the other callers queue up meanwhile
		}
		return Verdict{Reason: "measured"}, nil
	}
	var wg sync.WaitGroup
	for i := range 8 {
		if i == 1 {
			<-started
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.get(context.Background(), "lab/uid-1", probe)
			if err != nil || v.Reason != "measured" {
				t.Errorf("get = %+v, %v", v, err)
			}
		}()
	}
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("probe ran %d times for one key, want 1", n)
	}
	if _, err := c.get(context.Background(), "lab/uid-2", probe); err != nil || runs.Load() != 2 {
		t.Errorf("a re-created cluster (new kube-system UID) was not probed again: runs %d, err %v", runs.Load(), err)
	}
}

func TestCacheDoesNotKeepErrors(t *testing.T) {
	c := &cache{entries: map[string]*entry{}}
	calls := 0
	probe := func() (Verdict, error) {
		calls++
		if calls == 1 {
			return Verdict{}, errors.New("baseline failed")
		}
		return Verdict{Enforced: true}, nil
	}
	if _, err := c.get(context.Background(), "k", probe); err == nil {
		t.Fatal("first probe's error was lost")
	}
	v, err := c.get(context.Background(), "k", probe)
	if err != nil || !v.Enforced || calls != 2 {
		t.Errorf("after a failed probe: %+v, %v, %d calls; want a second probe", v, err, calls)
	}
}

func TestCacheWaiterHonoursContext(t *testing.T) {
	c := &cache{entries: map[string]*entry{}}
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_, _ = c.get(context.Background(), "k", func() (Verdict, error) {
			close(started)
			<-release
			return Verdict{}, nil
		})
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := c.get(ctx, "k", func() (Verdict, error) { t.Error("second probe ran"); return Verdict{}, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter error = %v, want deadline exceeded", err)
	}
	close(release)
}
