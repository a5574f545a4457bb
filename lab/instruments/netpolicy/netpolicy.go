// Package netpolicy measures whether a lab's pod network enforces
// Kubernetes NetworkPolicy. It does not guess from the CNI's name: flannel
// (the offline lab's CNI) never enforces, and kindnetd, which embeds
// kube-network-policies, cannot on a kernel without CONFIG_NFT_QUEUE and
// fails open without a word (docs/research/multus-offline.md §4). So Probe
// runs an agnhost server and client in a scratch namespace, applies a
// deny-all ingress policy to the server and watches whether new TCP
// connections stop. Scenarios that need enforcement (multus-network) skip
// with the Verdict's Reason when it is not; Cached runs the probe once per
// cluster. A probe takes about Grace plus half a minute.
package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/podexec"
	"github.com/nodelab/nodelab/lab/wait"
)

// Verdict is what the probe measured.
type Verdict struct {
	// Enforced is true when a deny-all ingress policy stopped new TCP
	// connections to the probe server.
	Enforced bool
	// Reason says what was measured, in one sentence, e.g. "the lab's pod
	// network does not enforce NetworkPolicy: a deny-all ingress policy left
	// new TCP connections to the probe server open for 20s (...)". It is
	// fit for a skip message as it is.
	Reason string
}

// ProbeOptions configure Probe.
type ProbeOptions struct {
	// Grace is how long new connections may still succeed after the policy
	// is created before the network counts as not enforcing; default 20s.
	// Enforcers program their dataplane asynchronously, in a few seconds.
	Grace time.Duration
	// Timeout bounds the whole probe except the final namespace deletion;
	// default 3m.
	Timeout time.Duration
	// Log gets one line per step and per connection attempt; nil is silent.
	Log io.Writer
}

// Names of what the probe creates.
const (
	namespacePrefix = "nodelab-netpolicy-probe"
	serverName      = "server"
	clientName      = "client"
	policyName      = "deny-all-ingress"
	serverPort      = 8080
	roleLabel       = "nodelab.dev/role"
)

func (o *ProbeOptions) defaults() error {
	if o.Grace < 0 || o.Timeout < 0 {
		return fmt.Errorf("grace (%s) and timeout (%s) must not be negative", o.Grace, o.Timeout)
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// Probe measures whether the lab's pod network enforces NetworkPolicy. In
// a scratch namespace it creates (marked as nodelab's) and always deletes,
// it runs an agnhost netexec server and an agnhost client on one
// schedulable node and checks that the client connects (else the probe
// itself is broken: an error). It then creates a deny-all ingress policy
// selecting the server and makes new connections, one a second, until one
// fails (enforced) or one succeeds Grace after the policy was created (not
// enforced). Finally it deletes the policy and requires that connections
// succeed again, so a server that died is not taken for enforcement. If the
// namespace cannot be deleted, Probe returns the verdict it measured along
// with the error.
func Probe(ctx context.Context, l *lab.Lab, opts ProbeOptions) (v Verdict, err error) {
	if err := opts.defaults(); err != nil {
		return Verdict{}, fmt.Errorf("probe NetworkPolicy enforcement: %w", err)
	}
	start := time.Now()
	p := &probe{l: l, opts: opts}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	node, err := p.node(ctx)
	if err != nil {
		return Verdict{}, fmt.Errorf("probe NetworkPolicy enforcement: %w", err)
	}
	ns, err := l.CreateNamespace(ctx, namespacePrefix)
	if err != nil {
		return Verdict{}, fmt.Errorf("probe NetworkPolicy enforcement: %w", err)
	}
	p.ns = ns
	defer func() {
		// Its own context: the namespace goes even when the probe timed out.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer dcancel()
		if derr := l.DeleteNamespace(dctx, ns, cleanupTimeout); derr != nil {
			err = errors.Join(err, fmt.Errorf("probe NetworkPolicy enforcement: clean up: %w", derr))
		}
		p.logf("namespace %s deleted; probe took %s", ns, round(time.Since(start)))
	}()
	p.logf("namespace %s, pods on node %s", ns, node)

	if v, err = p.measure(ctx, node); err != nil {
		return Verdict{}, fmt.Errorf("probe NetworkPolicy enforcement in namespace %s: %w", ns, err)
	}
	p.logf("verdict: %s", v.Reason)
	return v, nil
}

// probe is one run of Probe.
type probe struct {
	l    *lab.Lab
	opts ProbeOptions
	ns   string
	// target is the server's pod IP and port.
	target string
}

func (p *probe) logf(format string, args ...any) {
	fmt.Fprintf(p.opts.Log, "netpolicy: "+format+"\n", args...)
}

// node picks the node for both pods from the API server's node list, so it
// works on attached clusters too.
func (p *probe) node(ctx context.Context) (string, error) {
	list, err := p.l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list nodes: %w", err)
	}
	return pickNode(list.Items)
}

// measure runs the pods, the baseline, the policy and the restore check.
func (p *probe) measure(ctx context.Context, node string) (Verdict, error) {
	ref := images.Workloads()[0].Ref(addon.Source(p.l))
	pods, err := p.l.CreatePodsOn(ctx, p.ns, node, ref, probePods(), podStartTimeout)
	if err != nil {
		return Verdict{}, err
	}
	ip := pods[0].Status.PodIP
	if ip == "" {
		return Verdict{}, fmt.Errorf("pod %s/%s runs but has no IP", p.ns, serverName)
	}
	p.target = net.JoinHostPort(ip, strconv.Itoa(serverPort))

	if err := p.waitConnected(ctx, baselineTimeout); err != nil {
		return Verdict{}, fmt.Errorf("baseline, before any policy: %w; the probe itself is broken, not the policy", err)
	}
	p.logf("baseline: client connects to %s", p.target)

	pols := p.l.Client.NetworkingV1().NetworkPolicies(p.ns)
	if _, err := pols.Create(ctx, denyAllIngress(), metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
		return Verdict{}, fmt.Errorf("create NetworkPolicy %s: %w", policyName, err)
	}
	applied := time.Now()
	p.logf("NetworkPolicy %s created", policyName)
	v, err := p.attempts(ctx, applied)
	if err != nil {
		return Verdict{}, err
	}

	if err := pols.Delete(ctx, policyName, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return Verdict{}, fmt.Errorf("delete NetworkPolicy %s: %w", policyName, err)
	}
	deleted := time.Now()
	if err := p.waitConnected(ctx, restoreTimeout); err != nil {
		return Verdict{}, fmt.Errorf("after deleting NetworkPolicy %s: %w; the probe server or the network broke during the probe, so the verdict (%s) cannot be trusted", policyName, err, v.Reason)
	}
	p.logf("policy deleted: client connects again after %s", round(time.Since(deleted)))
	return v, nil
}

// attempts makes new connections while the policy exists until Decide
// returns a verdict.
func (p *probe) attempts(ctx context.Context, applied time.Time) (Verdict, error) {
	var (
		made []Attempt
		v    Verdict
		last string
	)
	timeout := p.opts.Grace + enforceSlack
	what := fmt.Sprintf("a verdict on NetworkPolicy %s from connections to %s", policyName, p.target)
	err := wait.Until(ctx, wait.Within{What: what, Timeout: timeout, Poll: pollInterval}, func(g gomega.Gomega) {
		at := time.Since(applied)
		out, detail := p.connect(ctx)
		switch out {
		case broken:
			gomega.StopTrying(fmt.Sprintf("agnhost connect %s cannot run: %s", p.target, detail)).Now()
		case transient:
			last = detail
			g.Expect(out == transient).To(gomega.BeFalse(), "exec of agnhost connect failed: %s", detail)
		}
		a := Attempt{At: at, Connected: out == connected, Failure: detail}
		made = append(made, a)
		status := "connected"
		if !a.Connected {
			status = detail
		}
		p.logf("+%s connect %s: %s", round(at), p.target, status)
		var done bool
		v, done = Decide(made, p.opts.Grace)
		g.Expect(done).To(gomega.BeTrue(), "no verdict yet after %d connection attempts", len(made))
	})
	if err != nil {
		return Verdict{}, fmt.Errorf("with NetworkPolicy %s: no verdict after %d connection attempts in %s (last exec error: %q): %w", policyName, len(made), timeout, last, err)
	}
	return v, nil
}

// waitConnected retries new connections until one succeeds.
func (p *probe) waitConnected(ctx context.Context, timeout time.Duration) error {
	last := "no attempt finished"
	err := wait.Until(ctx, wait.Within{What: "a connection from the client to " + p.target, Timeout: timeout, Poll: pollInterval}, func(g gomega.Gomega) {
		out, detail := p.connect(ctx)
		if out == broken {
			gomega.StopTrying(fmt.Sprintf("agnhost connect %s cannot run: %s", p.target, detail)).Now()
		}
		if out != connected {
			last = detail
		}
		g.Expect(out == connected).To(gomega.BeTrue(), "last: %s", detail)
	})
	if err != nil {
		return fmt.Errorf("client cannot connect to the probe server %s within %s (last: %s): %w", p.target, timeout, last, err)
	}
	return nil
}

// connect makes one new TCP connection from the client to the server.
func (p *probe) connect(ctx context.Context) (outcome, string) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	t := podexec.Target{Namespace: p.ns, Pod: clientName, Container: clientName}
	_, err := podexec.Run(ctx, p.l.Config, p.l.Client, t,
		"/agnhost", "connect", p.target, "--timeout="+connectTimeout.String())
	return classify(err)
}

// probePods are the server (index 0) and the client; CreatePodsOn pins
// them to the node, sets the image and marks them as nodelab's.
func probePods() []corev1.Pod {
	small := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	grace := int64(1)
	pod := func(name string, args ...string) corev1.Pod {
		return corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{roleLabel: name}},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: &grace,
				Containers:                    []corev1.Container{{Name: name, Args: args, Resources: small}},
			},
		}
	}
	server := pod(serverName, "netexec", "--http-port="+strconv.Itoa(serverPort))
	server.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: serverPort, Protocol: corev1.ProtocolTCP}}
	return []corev1.Pod{server, pod(clientName, "pause")}
}

// denyAllIngress selects the server and allows no ingress to it.
func denyAllIngress() *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{
			Name:   policyName,
			Labels: map[string]string{manifest.ManagedByLabel: manifest.ManagedByValue},
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{roleLabel: serverName}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
}
