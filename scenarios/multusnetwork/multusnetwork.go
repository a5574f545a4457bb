// Package multusnetwork is the runbook of scenario `multus-network`:
// secondary networks with Multus, and why NetworkPolicy does not cover
// them.
//
//  1. Deploy: install Multus, create the bridge NetworkAttachmentDefinition
//     lab-bridge (10.10.0.0/24, no gateway, no masquerade) and three
//     agnhost servers on one node, each attached to it.
//  2. Secondary network: each pod has net1 with an address from the range,
//     pod-to-pod traffic over net1 works, eth0 is still the lab's pod
//     network, and neither the host nor any node routes 10.10.0.0/24.
//  3. Pitfall: a NetworkPolicy denying ingress to server stops new
//     connections over eth0 (the control) but not over net1: the primary
//     CNI enforces policy on its own interface only. Needs a pod network
//     that enforces NetworkPolicy, which is measured (lab/instruments/netpolicy), not
//     assumed; otherwise the step skips with what was measured.
//  4. Fix: a MultiNetworkPolicy for lab-bridge lets server accept net1
//     ingress only from 10.10.0.0/24 and connect over net1 only to
//     client's /32: server→client works, server→other is dropped, and the
//     MULTI-INGRESS/MULTI-EGRESS chains are in server's network namespace.
//     Needs the multi-networkpolicy-iptables enforcer, which only exists as
//     an upstream image (images.MultiNetworkPolicyUnavailable).
package multusnetwork

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/multinetworkpolicy"
	"github.com/nodelab/nodelab/lab/addon/multus"
	"github.com/nodelab/nodelab/lab/addon/networkpolicies"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/netpolicy"
	"github.com/nodelab/nodelab/lab/instruments/routes"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "multus-network",
		Summary:  "pitfall: a NetworkPolicy denying ingress stops eth0 but not a Multus secondary interface (net1 on a bridge NAD); fix: a MultiNetworkPolicy for the NAD, enforced in the pod's network namespace",
		Labels:   []scenarios.Label{scenarios.NeedsMultus},
		Requires: []string{"node access (routes and the bridge are checked on the nodes)", "≥ 1 worker", "pitfall: a pod network that enforces NetworkPolicy (measured)", "fix: the multi-networkpolicy-iptables image (a registry)"},
		Typical:  2 * time.Minute,
		Addons:   []string{multus.Name, networkpolicies.Name, multinetworkpolicy.Name},
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "deploy: multus, the lab-bridge NAD (10.10.0.0/24), three attached servers on one node", Timeout: Timeouts.Deploy, Run: r.Deploy},
				{Side: scenarios.Check, Name: "pods get net1 from 10.10.0.0/24, traffic flows over it, eth0 and the host's routes are untouched", Timeout: Timeouts.Traffic, Run: r.SecondaryNetwork},
				{Side: scenarios.Pitfall, Name: "pitfall: a deny-ingress NetworkPolicy stops eth0 but not net1", Timeout: Timeouts.Policy, Run: r.PitfallPolicyMissesNet1},
				{Side: scenarios.Fix, Name: "fix: a MultiNetworkPolicy for the NAD: ingress only from 10.10.0.0/24, egress only to one /32, MULTI-* chains in the pod", Timeout: Timeouts.Policy, Run: r.FixMultiNetworkPolicy},
				{Side: scenarios.Check, Name: "secondary traffic stays on the lab's bridges: no route to 10.10.0.0/24 on the host or any node", Timeout: Timeouts.Routes, Run: r.NoRangeRoutes},
			},
			Cleanup: scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
		}
	},
}

// Runbook runs the scenario on a lab.
type Runbook struct {
	env       scenarios.Env
	Lab       *lab.Lab
	Addons    addon.Options
	Namespace string
	Node      string

	node nodeexec.Node
	pods map[string]*corev1.Pod
	net1 map[string]netip.Addr // pod name → net1 address
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook {
	return &Runbook{env: env, Lab: env.Lab, Addons: env.Addons}
}

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// Deploy installs Multus and starts the attached pods on one worker.
func (r *Runbook) Deploy(ctx context.Context) error {
	workers, err := r.Lab.Workers()
	if err != nil {
		return err
	}
	if len(workers) == 0 {
		return scenarios.Skipf("needs a worker node; lab %s has only a control plane", r.Lab.Name)
	}
	r.node, r.Node = workers[0], workers[0].String()
	// On a cluster nodelab did not create: its own Multus is used; nodelab
	// installs one (and removes it afterwards) only when asked.
	if err := addon.Ensure(ctx, r.Lab, r.Addons, multus.Name); err != nil {
		return skipUnlessAllowed(err)
	}
	if r.Namespace, err = r.Lab.CreateNamespace(ctx, "nodelab-multus-network"); err != nil {
		return err
	}
	if err := r.apply(ctx, "multus-network/network.yaml", nil); err != nil {
		return err
	}
	pods, err := manifest.DecodePods(fixtures.FS, "multus-network/pods.yaml")
	if err != nil {
		return err
	}
	running, err := r.Lab.CreatePodsOn(ctx, r.Namespace, r.Node, images.AgnhostImage, pods, r.t().PodStart)
	if err != nil {
		return err
	}
	r.pods, r.net1 = map[string]*corev1.Pod{}, map[string]netip.Addr{}
	for i := range running {
		p := &running[i]
		r.pods[p.Name] = p
		st, err := NetworkStatus(p)
		if err != nil {
			return err
		}
		if a, ok := net1Addr(st); ok {
			r.net1[p.Name] = a
		}
		r.env.Logf("pod %s: eth0 %s, net1 %s", p.Name, p.Status.PodIP, r.net1[p.Name])
	}
	return nil
}

// SecondaryNetwork checks net1, traffic over it, eth0 and the routes.
func (r *Runbook) SecondaryNetwork(ctx context.Context) error {
	if err := r.requireDeployed(); err != nil {
		return err
	}
	node, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	podCIDR, err := netip.ParsePrefix(node.Spec.PodCIDR)
	if err != nil {
		return fmt.Errorf("node %s podCIDR %q: %w", r.Node, node.Spec.PodCIDR, err)
	}
	if err := wait.Check(func(g gomega.Gomega) {
		for _, name := range []string{"server", "client", "other"} {
			a, ok := r.net1[name]
			g.Expect(ok).To(gomega.BeTrue(), "pod %s has no %s in its network-status annotation %q", name, Net1, r.pods[name].Annotations[nadv1.NetworkStatusAnnot])
			g.Expect(Range.Contains(a)).To(gomega.BeTrue(), "pod %s: %s %s is outside %s", name, Net1, a, Range)
			eth0, err := netip.ParseAddr(r.pods[name].Status.PodIP)
			g.Expect(err).NotTo(gomega.HaveOccurred())
			g.Expect(podCIDR.Contains(eth0)).To(gomega.BeTrue(), "pod %s: eth0 %s is outside node %s's podCIDR %s: the primary network changed", name, eth0, r.Node, podCIDR)
		}
	}); err != nil {
		return err
	}
	if err := r.eventuallyConnects(ctx, "client", r.net1["server"]); err != nil {
		return fmt.Errorf("client to server over %s: %w", Net1, err)
	}
	if err := r.eventuallyConnects(ctx, "client", r.eth0("server")); err != nil {
		return fmt.Errorf("client to server over eth0: %w", err)
	}
	r.env.Logf("client → server works over net1 (%s) and eth0 (%s)", r.net1["server"], r.eth0("server"))
	return r.NoRangeRoutes(ctx)
}

// NoRangeRoutes checks that neither the host nor a node routes Range and
// that the bridge on the pods' node has no IPv4 address.
func (r *Runbook) NoRangeRoutes(ctx context.Context) error {
	host, err := routes.Host(ctx)
	if err != nil {
		return err
	}
	if bad := routes.Overlapping(host, Range); len(bad) > 0 {
		return fmt.Errorf("the host routes %s: %s (secondary traffic must stay on the lab's bridges)", Range, strings.Join(bad, "; "))
	}
	kn, err := r.Lab.Nodes()
	if err != nil {
		return err
	}
	for _, n := range kn {
		out, err := nodeexec.Run(ctx, n, "ip", "-4", "route", "show", "table", "all")
		if err != nil {
			return err
		}
		if bad := routes.Overlapping(out, Range); len(bad) > 0 {
			return fmt.Errorf("node %s routes %s: %s", n, Range, strings.Join(bad, "; "))
		}
	}
	out, err := nodeexec.Run(ctx, r.node, "ip", "-4", "-o", "addr", "show", "dev", Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s on %s: %w", Bridge, r.Node, err)
	}
	if strings.TrimSpace(out) != "" {
		return fmt.Errorf("bridge %s on %s has an IPv4 address (%s): the NAD's isGateway must stay false", Bridge, r.Node, strings.TrimSpace(out))
	}
	r.env.Logf("no route to %s on the host or any node; %s on %s has no address", Range, Bridge, r.Node)
	return nil
}

// PitfallPolicyMissesNet1 applies the deny-ingress NetworkPolicy: eth0
// closes, net1 stays open.
func (r *Runbook) PitfallPolicyMissesNet1(ctx context.Context) error {
	if err := r.requireDeployed(); err != nil {
		return err
	}
	v, err := netpolicy.Cached(ctx, r.Lab, netpolicy.ProbeOptions{})
	if err != nil {
		return fmt.Errorf("measure whether the pod network enforces NetworkPolicy: %w", err)
	}
	if !v.Enforced {
		// flannel (forge labs) enforces none, kindnetd none on kernels
		// without nft_queue: run an enforcer beside the pod network.
		r.env.Logf("%s: installing the %s addon (kube-network-policies %s)", v.Reason, networkpolicies.Name, images.NetworkPoliciesVersion)
		if err := addon.Ensure(ctx, r.Lab, r.Addons, networkpolicies.Name); err != nil {
			if errors.Is(err, networkpolicies.ErrKindnetd) {
				return scenarios.Skipf("the pitfall needs a primary network that enforces NetworkPolicy; measured: %s; and %v", v.Reason, err)
			}
			return skipUnlessAllowed(err)
		}
		if err := netpolicy.Forget(ctx, r.Lab); err != nil {
			return err
		}
		before := v.Reason
		if v, err = netpolicy.Cached(ctx, r.Lab, netpolicy.ProbeOptions{}); err != nil {
			return fmt.Errorf("measure whether the pod network enforces NetworkPolicy with %s: %w", networkpolicies.Name, err)
		}
		if !v.Enforced && addon.Source(r.Lab) != images.SourceForge {
			return scenarios.Skipf("with the %s addon running (upstream image %s), the pod network still does not enforce NetworkPolicy: %s; upstream's build queues with nft's queue expression, which kernels without CONFIG_NFT_QUEUE refuse (the forge's build is patched for xt NFQUEUE: use imageSource forge)", networkpolicies.Name, images.NetworkPoliciesUpstreamImage, v.Reason)
		}
		if !v.Enforced {
			return fmt.Errorf("with the %s addon running, the pod network still does not enforce NetworkPolicy: %s (before it: %s); see `kubectl -n kube-system logs ds/%s`", networkpolicies.Name, v.Reason, before, networkpolicies.DaemonSet)
		}
	}
	r.env.Logf("%s", v.Reason)
	if err := r.apply(ctx, "multus-network/policies.yaml", nil); err != nil {
		return err
	}
	defer func() {
		_ = r.Lab.Client.NetworkingV1().NetworkPolicies(r.Namespace).Delete(context.WithoutCancel(ctx), "deny-ingress-to-server", metav1.DeleteOptions{})
	}()
	closedAfter, err := r.eventuallyBlocked(ctx, "client", r.eth0("server"))
	if err != nil {
		return fmt.Errorf("the NetworkPolicy should stop client → server over eth0 (the control): %w", err)
	}
	// net1 stays open, checked for as long as eth0 took to close, at least
	// net1OpenAtLeast.
	watched := max(closedAfter, net1OpenAtLeast)
	n, err := r.keepsConnecting(ctx, "client", r.net1["server"], watched)
	if err != nil {
		return fmt.Errorf("client → server over %s should keep working after eth0 closed; the pitfall did not reproduce: %w", Net1, err)
	}
	r.env.Logf("pitfall reproduced: eth0 closed after %s; over the next %s net1 accepted all %d new connections while the policy was in place", closedAfter.Round(displayRound), watched, n)
	return nil
}

// skipUnlessAllowed turns addon.Ensure's refusals on a cluster nodelab did
// not create into skips that say why; other errors stay failures.
func skipUnlessAllowed(err error) error {
	if errors.Is(err, addon.ErrNeedsConsent) || errors.Is(err, addon.ErrNotOnAttached) {
		return scenarios.Skipf("%v", err)
	}
	return err
}

// FixMultiNetworkPolicy applies the MultiNetworkPolicy and checks traffic
// in both directions and the chains in server's network namespace.
func (r *Runbook) FixMultiNetworkPolicy(ctx context.Context) error {
	if err := r.requireDeployed(); err != nil {
		return err
	}
	if addon.Source(r.Lab) == images.SourceForge {
		return scenarios.Skipf("%s", images.MultiNetworkPolicyUnavailable)
	}
	if err := addon.Ensure(ctx, r.Lab, r.Addons, multinetworkpolicy.Name); err != nil {
		return skipUnlessAllowed(err)
	}
	clientIP := r.net1["client"].String()
	if err := r.apply(ctx, "multus-network/multi-policy.yaml", func(s string) string { return strings.ReplaceAll(s, "CLIENT_NET1_IP", clientIP) }); err != nil {
		return err
	}
	if _, err := r.eventuallyBlocked(ctx, "server", r.net1["other"]); err != nil {
		return fmt.Errorf("server → other over %s should be dropped (egress only to %s/32): %w", Net1, clientIP, err)
	}
	if err := r.eventuallyConnects(ctx, "server", r.net1["client"]); err != nil {
		return fmt.Errorf("server → client over %s (the allowed /32): %w", Net1, err)
	}
	if err := r.eventuallyConnects(ctx, "client", r.net1["server"]); err != nil {
		return fmt.Errorf("client → server over %s (ingress from %s): %w", Net1, Range, err)
	}
	rules, err := r.podIptables(ctx, "server")
	if err != nil {
		return err
	}
	for _, chain := range []string{"MULTI-INGRESS", "MULTI-EGRESS"} {
		if !strings.Contains(rules, ":"+chain+" ") {
			return fmt.Errorf("chain %s is not in server's network namespace; iptables-save shows:\n%s", chain, rules)
		}
	}
	r.env.Logf("fix verified: server → client %s ok, server → other %s dropped, client → server ok; MULTI-INGRESS and MULTI-EGRESS in server's netns", clientIP, r.net1["other"])
	return nil
}

// Cleanup deletes the scenario's namespace (Multus stays installed).
func (r *Runbook) Cleanup(ctx context.Context) error {
	if r.Namespace == "" {
		return nil
	}
	if err := r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup); err != nil {
		return err
	}
	// The bridge plugin makes the bridge and never deletes it (CNI DEL
	// leaves it for other pods): nodelab's, named for it, so it goes
	// once the pods are gone.
	if r.node == nil {
		return nil
	}
	if _, err := nodeexec.Run(ctx, r.node, "ip", "link", "show", Bridge); err != nil {
		return nil // not there
	}
	if _, err := nodeexec.Run(ctx, r.node, "ip", "link", "delete", Bridge); err != nil {
		return fmt.Errorf("delete bridge %s on %s: %w", Bridge, r.node, err)
	}
	return nil
}

func (r *Runbook) requireDeployed() error {
	if r.pods == nil {
		return fmt.Errorf("the deploy step has not run (or failed)")
	}
	return nil
}
