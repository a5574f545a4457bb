package nlb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
)

// startHealthChecksLocked starts tg's health-check loop. The ticker is made
// here, under the lock, so that a fake clock advanced right after the
// registration took effect already drives it.
func (n *NLB) startHealthChecksLocked(tg *target) {
	tk := n.clock.NewTicker(n.cfg.HealthCheck.Interval)
	stop := make(chan struct{})
	tg.stopHealth, tg.ticker = stop, tk
	n.wg.Add(1)
	go n.healthLoop(tg, tk, stop)
}

func (n *NLB) healthLoop(tg *target, tk Ticker, stop <-chan struct{}) {
	defer n.wg.Done()
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-n.ctx.Done():
			return
		case <-tk.C():
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.HealthCheck.Timeout)
		reason, err := n.check(ctx, tg.Addr)
		cancel()
		n.observe(tg, stop, reason, err)
	}
}

// check runs one health check of the target at addr. On failure it returns
// the AWS reason code and the error.
func (n *NLB) check(ctx context.Context, addr netip.AddrPort) (string, error) {
	hc := n.cfg.HealthCheck
	port := hc.Port
	if port == 0 {
		port = addr.Port()
	}
	hostport := netip.AddrPortFrom(addr.Addr(), port).String()
	failed := func(err error) (string, error) {
		if errors.Is(err, context.DeadlineExceeded) {
			return ReasonTimeout, err
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return ReasonTimeout, err
		}
		return ReasonFailedHealthChecks, err
	}
	if hc.Protocol == ProtocolTCP {
		c, err := n.dial(ctx, netip.AddrPortFrom(addr.Addr(), port))
		if err != nil {
			return failed(fmt.Errorf("TCP health check: %w", err))
		}
		_ = c.Close()
		return "", nil
	}
	url := "http://" + hostport + hc.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ReasonFailedHealthChecks, fmt.Errorf("HTTP health check: %w", err)
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	resp, err := n.http.Do(req)
	if err != nil {
		return failed(fmt.Errorf("HTTP health check: %w", err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ReasonResponseCodeMismatch, fmt.Errorf("HTTP health check: GET %s answered %d, want 200", url, resp.StatusCode)
	}
	return "", nil
}

// observe applies one check result to tg and resets the flows that AWS
// would reset: those of unhealthy targets while the NLB is not failing open.
func (n *NLB) observe(tg *target, stop <-chan struct{}, reason string, err error) {
	n.mu.Lock()
	select {
	case <-stop:
		// Draining or closed since the check began: the result is moot.
		n.mu.Unlock()
		return
	default:
	}
	tg.checks++
	hc := n.cfg.HealthCheck
	changed := false
	if err == nil {
		tg.failRun = 0
		tg.okRun++
		if tg.state != StateHealthy && tg.okRun >= hc.HealthyThreshold {
			n.setStateLocked(tg, StateHealthy, ReasonHealthy, fmt.Sprintf("%d consecutive passes", tg.okRun))
			changed = true
		}
	} else {
		tg.okRun = 0
		tg.failRun++
		n.cfg.Logger.Debug("nlb health check failed", "target", tg.String(), "error", err.Error())
		if tg.state != StateUnhealthy && tg.failRun >= hc.UnhealthyThreshold {
			n.setStateLocked(tg, StateUnhealthy, reason, fmt.Sprintf("%d consecutive failures, last: %v", tg.failRun, err))
			changed = true
		}
	}
	var resets []*flow
	if changed && !n.failOpenLocked() {
		for _, t := range n.targets {
			if t.state == StateUnhealthy {
				resets = append(resets, n.unhealthyFlowsLocked(t)...)
			}
		}
	}
	n.mu.Unlock()
	for _, f := range resets {
		f.reset()
	}
}

// unhealthyFlowsLocked returns the flows of unhealthy tg to reset now: all
// of them when TerminateOnUnhealthy is set; otherwise none, and with an
// UnhealthyDrainingInterval the ones still open when it ends (unless tg
// recovered by then).
func (n *NLB) unhealthyFlowsLocked(tg *target) []*flow {
	if n.cfg.TerminateOnUnhealthy {
		return n.resetFlowsLocked(tg)
	}
	if n.cfg.UnhealthyDrainingInterval > 0 && tg.unhealthyTimer == nil && len(tg.flows) > 0 {
		tg.unhealthyTimer = n.afterFunc(n.cfg.UnhealthyDrainingInterval, func() []*flow {
			tg.unhealthyTimer = nil
			if tg.state != StateUnhealthy || n.failOpenLocked() {
				return nil
			}
			return n.resetFlowsLocked(tg)
		})
	}
	return nil
}
