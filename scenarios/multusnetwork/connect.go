package multusnetwork

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/podexec"
	"github.com/nodelab/nodelab/lab/wait"
)

// eth0 is the pod's primary-network address (its PodIP).
func (r *Runbook) eth0(pod string) netip.Addr {
	a, _ := netip.ParseAddr(r.pods[pod].Status.PodIP)
	return a
}

// network is a wait for a connection to change: the shared Network
// timeout, polled at the shared Poll interval.
func (r *Runbook) network(what string) wait.Within {
	return wait.Within{What: what, Timeout: r.t().Network, Poll: r.t().Poll}
}

// eventuallyConnects retries new connections from pod to ip until one
// works, within the Network timeout.
func (r *Runbook) eventuallyConnects(ctx context.Context, from string, ip netip.Addr) error {
	what := fmt.Sprintf("a new connection from %s to %s:%d", from, ip, Port)
	return wait.Until(ctx, r.network(what), func(g gomega.Gomega) {
		g.Expect(connect(ctx, r.Lab, r.Namespace, from, ip)).To(gomega.Succeed(), "no connection from %s to %s:%d", from, ip, Port)
	})
}

// eventuallyBlocked retries new connections until one fails, within the
// Network timeout, and returns how long that took.
func (r *Runbook) eventuallyBlocked(ctx context.Context, from string, ip netip.Addr) (time.Duration, error) {
	start := time.Now()
	var blockedAfter time.Duration
	what := fmt.Sprintf("new connections from %s to %s:%d to fail", from, ip, Port)
	if err := wait.Until(ctx, r.network(what), func(g gomega.Gomega) {
		err := connect(ctx, r.Lab, r.Namespace, from, ip)
		g.Expect(err).To(gomega.HaveOccurred(), "new connections from %s to %s:%d still succeed after %s", from, ip, Port, time.Since(start).Round(displayRound))
		blockedAfter = time.Since(start)
		r.env.Logf("%s → %s:%d blocked after %s: %v", from, ip, Port, blockedAfter.Round(displayRound), err)
	}); err != nil {
		return 0, err
	}
	return blockedAfter, nil
}

// keepsConnecting opens new connections from pod to ip every Poll for
// the duration watched; each must work. It returns how many did.
func (r *Runbook) keepsConnecting(ctx context.Context, from string, ip netip.Addr, watched time.Duration) (int, error) {
	start, n := time.Now(), 0
	what := fmt.Sprintf("new connections from %s to %s:%d to keep working", from, ip, Port)
	err := wait.Holds(ctx, wait.Within{What: what, Timeout: watched, Poll: r.t().Poll}, func(g gomega.Gomega) {
		err := connect(ctx, r.Lab, r.Namespace, from, ip)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "%s → %s:%d failed %s into the watch (attempt %d)", from, ip, Port, time.Since(start).Round(displayRound), n+1)
		n++
	})
	return n, err
}

// connect opens one new TCP connection from the pod (agnhost connect,
// connectTimeout).
func connect(ctx context.Context, l *lab.Lab, ns, pod string, ip netip.Addr) error {
	_, err := podexec.Run(ctx, l.Config, l.Client, podexec.Target{Namespace: ns, Pod: pod, Container: "netexec"},
		"/agnhost", "connect", netip.AddrPortFrom(ip, Port).String(), "--timeout="+connectTimeout.String())
	return err
}
