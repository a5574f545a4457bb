package multusnetwork

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/podexec"
)

func (r *Runbook) eth0(pod string) netip.Addr {
	a, _ := netip.ParseAddr(r.pods[pod].Status.PodIP)
	return a
}

// eventuallyConnects retries new connections from pod to ip until one
// works, within the Network timeout.
func (r *Runbook) eventuallyConnects(ctx context.Context, from string, ip netip.Addr) error {
	var last error
	deadline := time.Now().Add(r.t().Network)
	for {
		if last = connect(ctx, r.Lab, r.Namespace, from, ip); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no connection from %s to %s:%d within %s: %w", from, ip, Port, r.t().Network, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.t().Poll):
		}
	}
}

// eventuallyBlocked retries new connections until one fails, within the
// Network timeout, and returns how long that took.
func (r *Runbook) eventuallyBlocked(ctx context.Context, from string, ip netip.Addr) (time.Duration, error) {
	start := time.Now()
	for {
		if err := connect(ctx, r.Lab, r.Namespace, from, ip); err != nil {
			r.env.Logf("%s → %s:%d blocked after %s: %v", from, ip, Port, time.Since(start).Round(100*time.Millisecond), err)
			return time.Since(start), nil
		}
		if time.Since(start) > r.t().Network {
			return 0, fmt.Errorf("new connections from %s to %s:%d still succeed after %s", from, ip, Port, r.t().Network)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(r.t().Poll):
		}
	}
}

// connect opens one new TCP connection from the pod (agnhost connect,
// 2s timeout).
func connect(ctx context.Context, l *lab.Lab, ns, pod string, ip netip.Addr) error {
	_, err := podexec.Run(ctx, l.Config, l.Client, podexec.Target{Namespace: ns, Pod: pod, Container: "netexec"},
		"/agnhost", "connect", netip.AddrPortFrom(ip, Port).String(), "--timeout=2s")
	return err
}
