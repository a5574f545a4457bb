package ingressrollout

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/nodeexec"
)

// Residue is what a rollout left in a node's conntrack table: new
// connections from the NLB to the node's NodePort that conntrack still
// forwards to a pod that no longer exists. Their SYNs went unanswered
// (SYN_SENT, kept up to 120 s), and a later connection that reuses one of
// their source addresses and ports matches the entry and goes to the
// deleted pod too (kubernetes/kubernetes#101607): the damage of a bad
// rollout outlives it, for clients with few source ports.
type Residue struct {
	// Node is the node's name, Pod the deleted pod's IP.
	Node string
	Pod  netip.Addr
	// Ports counts the pinned source ports.
	Ports int
}

// String says what the residue does, for the spec's report.
func (r Residue) String() string {
	return fmt.Sprintf("node %s: conntrack still sends %d of the NLB's source ports to the deleted pod %s (unanswered SYN_SENT, kept up to 120 s); a new connection from one of them is blackholed",
		r.Node, r.Ports, r.Pod)
}

// PinnedSYNs reads `conntrack -L -p tcp` output: per DNAT destination,
// how many unanswered connection attempts to dport it holds.
func PinnedSYNs(out string, dport uint16) map[netip.Addr]int {
	pinned := map[netip.Addr]int{}
	want := "dport=" + strconv.Itoa(int(dport))
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "tcp" || f[3] != "SYN_SENT" {
			continue
		}
		// The original tuple, then [UNREPLIED], then the reply tuple, whose
		// source is where the node sends the flow after DNAT.
		i := slices.Index(f, "[UNREPLIED]")
		if i < 0 || !slices.Contains(f[:i], want) {
			continue
		}
		for _, kv := range f[i+1:] {
			if v, ok := strings.CutPrefix(kv, "src="); ok {
				if ip, err := netip.ParseAddr(v); err == nil {
					pinned[ip]++
				}
				break
			}
		}
	}
	return pinned
}

// residue lists, per node target of the NLB, the unanswered connection
// attempts to nodePort that conntrack pins to an address no pod of the
// cluster has any more.
func (r *Runbook) residue(ctx context.Context, targets []nlb.TargetStats, nodePort uint16) ([]Residue, error) {
	pods, err := r.Lab.Client.CoreV1().Pods(corev1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	live := map[netip.Addr]bool{}
	for _, p := range pods.Items {
		for _, ip := range p.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				live[a] = true
			}
		}
	}
	var out []Residue
	seen := map[string]bool{}
	for _, t := range targets {
		if t.Target.Name == "" || seen[t.Target.Name] {
			continue
		}
		seen[t.Target.Name] = true
		node, err := r.Lab.Node(t.Target.Name)
		if err != nil {
			return nil, err
		}
		ct, err := nodeexec.Run(ctx, node, "conntrack", "-L", "-p", "tcp", "--dport", strconv.Itoa(int(nodePort)))
		if err != nil {
			return nil, err
		}
		for ip, n := range PinnedSYNs(ct, nodePort) {
			if !live[ip] {
				out = append(out, Residue{Node: t.Target.Name, Pod: ip, Ports: n})
			}
		}
	}
	slices.SortFunc(out, func(a, b Residue) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return a.Pod.Compare(b.Pod)
	})
	return out, nil
}
