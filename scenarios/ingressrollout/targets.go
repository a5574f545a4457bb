package ingressrollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/instruments/nlbtargets"
	"github.com/nodelab/nodelab/lab/nlbnet"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

// startDataPlane starts (once) the container ip targets are dialled from.
func (r *Runbook) startDataPlane(ctx context.Context) (*nlbnet.DataPlane, error) {
	if r.dataPlane != nil {
		return r.dataPlane, nil
	}
	if err := r.Lab.DockerAccess(); err != nil {
		return nil, scenarios.Skipf("ip targets are dialled from a data-plane container on the cluster's docker network, which needs this host's Docker engine to run the cluster's nodes (instance targets need only the node IPs); measured on %s: %v", r.Lab.Name, err)
	}
	dp, err := r.Lab.StartNLBDataPlane(ctx, slog.New(slog.DiscardHandler))
	if errors.Is(err, nlbnet.ErrNeedRoot) {
		return nil, scenarios.Skipf("%v", err)
	}
	if err != nil {
		return nil, err
	}
	r.dataPlane = dp
	r.env.Logf("ip targets dialled from container %s at %s (routes to every podCIDR inside it, none on the host)", nlbnet.ContainerName(r.Lab.Name), dp.Addr())
	return dp, nil
}

// waitTargetsHealthy waits until the NLB routes exactly to what serves:
// instance targets, every node with a ready Traefik pod healthy; ip
// targets, every ready Traefik pod's target healthy; no other target
// routable, and no fail-open.
func (r *Runbook) waitTargetsHealthy(ctx context.Context, lb *nlb.NLB, t nlb.TargetType, svc nlbtargets.Service) error {
	w := wait.Within{What: fmt.Sprintf("the NLB's %s targets healthy: every serving target healthy, no other target routable, no fail-open", t),
		Timeout: r.t().Network, Poll: Timeouts.TargetsPoll}
	err := wait.Until(ctx, w, func(g gomega.Gomega) {
		want, err := r.servingTargets(ctx, t, svc)
		if err != nil {
			gomega.StopTrying("find the targets that serve").Wrap(err).Now()
		}
		snap := lb.Snapshot()
		var missing, extra []string
		for _, a := range want {
			if ts, ok := snap.Target(a); !ok || ts.State != nlb.StateHealthy {
				missing = append(missing, fmt.Sprintf("%s %s", a, ts.State))
			}
		}
		// Nothing else may get new flows: a target still propagating its
		// deregistration does, and its pod may be gone.
		for _, ts := range snap.Targets {
			if ts.Routable && !slices.Contains(want, ts.Target.Addr) {
				extra = append(extra, fmt.Sprintf("%s %s", ts.Target, ts.State))
			}
		}
		last := fmt.Sprintf("want healthy %v, not yet: %v; routable but not serving: %v; fail-open %v", want, missing, extra, snap.FailOpen)
		g.Expect(len(want) > 0 && len(missing) == 0 && len(extra) == 0 && !snap.FailOpen).To(gomega.BeTrue(), last)
	})
	if err != nil {
		return fmt.Errorf("the NLB's %s targets did not become healthy: %w\n(a target's health-check failures are in the NLB log; on a slow host set %s=2)", t, err, scenarios.TimeoutScaleEnv)
	}
	return nil
}

// servingTargets are the targets that should be healthy now.
func (r *Runbook) servingTargets(ctx context.Context, t nlb.TargetType, svc nlbtargets.Service) ([]netip.AddrPort, error) {
	pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: appLabel})
	if err != nil {
		return nil, fmt.Errorf("list traefik pods: %w", err)
	}
	var out []netip.AddrPort
	for i := range pods.Items {
		p := &pods.Items[i]
		if terminating(*p) || !lab.PodCondition(p, corev1.ContainersReady) {
			continue
		}
		if t == nlb.TargetTypeIP {
			if ip, err := netip.ParseAddr(p.Status.PodIP); err == nil {
				out = append(out, netip.AddrPortFrom(ip, svc.TargetPort))
			}
			continue
		}
		node, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get node %s: %w", p.Spec.NodeName, err)
		}
		if ip, ok := nlbtargets.InternalIP(node); ok {
			if a := netip.AddrPortFrom(ip, svc.NodePort); !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}
