package nlb

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// healthzLab has two instance targets a (127.0.0.2) and b (127.0.0.3)
// health-checked like externalTrafficPolicy Local: GET /healthz on a shared
// healthCheckNodePort.
func healthzLab(t *testing.T) (l *lab, a, b *backend, ha, hb *healthz) {
	t.Helper()
	a = startBackend(t, "127.0.0.2", "a", nil)
	b = startBackend(t, "127.0.0.3", "b", nil)
	port, hs := startHealthz(t, "127.0.0.2", "127.0.0.3")
	cfg := testConfig()
	cfg.UseHealthCheckNodePort(port)
	return startLab(t, cfg), a, b, hs[0], hs[1]
}

func TestUnhealthyThresholdResetsExistingFlows(t *testing.T) {
	noLeaks(t)
	l, a, b, ha, _ := healthzLab(t)
	l.makeHealthy(a.addr, b.addr)
	if _, ok := ha.paths.Load("/healthz"); !ok {
		t.Fatal("the health check did not GET /healthz")
	}
	toA, toB := l.flowTo("a"), l.flowTo("b")
	l.settle(2)

	ha.code.Store(http.StatusServiceUnavailable) // kube-proxy: no local endpoint
	l.tick(a.addr, b.addr)
	if s := l.stats(a.addr); s.State != StateHealthy {
		t.Fatalf("one failure of two: a is %s, want still healthy", s.State)
	}
	toA.mustReach(t, "a")

	l.tick(a.addr, b.addr)
	s := l.stats(a.addr)
	if s.State != StateUnhealthy || s.Reason != ReasonResponseCodeMismatch {
		t.Fatalf("two failures: a is %s (%s), want unhealthy (%s)", s.State, s.Reason, ReasonResponseCodeMismatch)
	}
	toA.mustBeReset(t)
	eventually(t, "a's reset counted", func() bool { return l.stats(a.addr).Resets == 1 })
	toB.mustReach(t, "b")
	if got := l.landings(16); got["b"] != 16 {
		t.Fatalf("16 new flows with a unhealthy landed %v, want all on b", got)
	}
	if s := l.stats(b.addr); s.Resets != 0 {
		t.Fatalf("b, healthy, had %d flows reset", s.Resets)
	}
}

func TestFailOpenWhenNoTargetIsHealthy(t *testing.T) {
	noLeaks(t)
	l, a, b, ha, _ := healthzLab(t)
	l.makeHealthy(a.addr)
	toA := l.flowTo("a")

	ha.code.Store(http.StatusServiceUnavailable)
	l.tick(a.addr)
	l.tick(a.addr)
	snap := l.nlb.Snapshot()
	if s, _ := snap.Target(a.addr); s.State != StateUnhealthy || !s.Routable || !snap.FailOpen {
		t.Fatalf("only target unhealthy: state %s, routable %v, fail-open %v; want unhealthy, routable, failing open", s.State, s.Routable, snap.FailOpen)
	}
	// Failing open: no RST for a's flow, and new flows still reach a.
	toA.mustReach(t, "a")
	l.flowTo("a").mustReach(t, "a")
	if s := l.stats(a.addr); s.Resets != 0 {
		t.Fatalf("a was reset %d times while failing open", s.Resets)
	}

	// Once b is healthy the NLB no longer fails open: a's flows get the RST
	// AWS sends for packets on connections of an unhealthy target.
	l.register(b.addr)
	l.clk.Advance(l.cfg.RegistrationPropagation)
	for range l.cfg.HealthCheck.HealthyThreshold {
		l.tick(a.addr, b.addr)
	}
	if s := l.nlb.Snapshot(); s.FailOpen {
		t.Fatal("b is healthy, but still failing open")
	}
	toA.mustBeReset(t)
	if got := l.landings(16); got["b"] != 16 {
		t.Fatalf("16 new flows landed %v, want all on healthy b", got)
	}
}

func TestTCPHealthCheckFailsWhenThePortCloses(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	cfg := testConfig()
	cfg.TargetType = TargetTypeIP
	l := startLab(t, cfg)
	l.makeHealthy(a.addr)
	toA := l.flowTo("a")

	a.stopListening() // the pod stops accepting; its open connection stays
	l.tick(a.addr)
	l.tick(a.addr)
	if s := l.stats(a.addr); s.State != StateUnhealthy || s.Reason != ReasonFailedHealthChecks {
		t.Fatalf("port closed: a is %s (%s), want unhealthy (%s)", s.State, s.Reason, ReasonFailedHealthChecks)
	}
	toA.mustReach(t, "a") // failing open
}

func TestDialFailureResetsTheClient(t *testing.T) {
	noLeaks(t)
	// A port with no listener: bind one, take its address, close it.
	gone := startBackend(t, "127.0.0.2", "gone", nil)
	gone.close()
	l := startLab(t, testConfig())
	l.register(gone.addr)
	l.clk.Advance(l.cfg.RegistrationPropagation) // initial, failing open: routable
	l.mustRejectNewFlow()
	eventually(t, "dial error counted", func() bool {
		s := l.stats(gone.addr)
		return s.DialErrors == 1 && s.ActiveFlows == 0
	})
}

func TestUnhealthyFlowsGoOnWithConnectionTerminationOff(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	b := startBackend(t, "127.0.0.3", "b", nil)
	port, hs := startHealthz(t, "127.0.0.2", "127.0.0.3")
	cfg := testConfig()
	cfg.UseHealthCheckNodePort(port)
	cfg.TerminateOnUnhealthy = false
	cfg.UnhealthyDrainingInterval = 60 * time.Second
	l := startLab(t, cfg)
	l.makeHealthy(a.addr, b.addr)
	toA := l.flowTo("a")

	hs[0].code.Store(http.StatusServiceUnavailable)
	l.tick(a.addr, b.addr)
	l.tick(a.addr, b.addr)
	if s := l.stats(a.addr); s.State != StateUnhealthy {
		t.Fatalf("two failures: a is %s, want unhealthy", s.State)
	}
	// Termination off: the open flow goes on, new flows avoid a.
	toA.mustReach(t, "a")
	if got := l.landings(16); got["b"] != 16 {
		t.Fatalf("16 new flows with a unhealthy landed %v, want all on b", got)
	}
	l.clk.Advance(l.cfg.UnhealthyDrainingInterval - time.Second)
	toA.mustReach(t, "a")
	if s := l.stats(a.addr); s.Resets != 0 {
		t.Fatalf("a's flow was reset %d times before the draining interval ended", s.Resets)
	}
	// The draining interval ends: what is still open is reset.
	l.clk.Advance(time.Second)
	toA.mustBeReset(t)
	eventually(t, "a's reset counted", func() bool { return l.stats(a.addr).Resets == 1 })
}

func TestDrainingIntervalNeedsTerminationOff(t *testing.T) {
	cfg := AWSDefaults()
	cfg.UnhealthyDrainingInterval = time.Minute
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "termination") {
		t.Fatalf("draining interval with termination on: err %v, want one naming connection termination", err)
	}
	cfg.TerminateOnUnhealthy = false
	if err := cfg.Validate(); err != nil {
		t.Fatalf("draining interval with termination off: %v", err)
	}
}

func TestSlowDialIsCounted(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	cfg := testConfig()
	var slow atomic.Bool
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if slow.Load() { // as if the first SYN got no answer
			select {
			case <-time.After(SlowDial):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	l := startLab(t, cfg)
	l.makeHealthy(a.addr) // health checks dial too; they are not flows
	slow.Store(true)
	l.dial().mustReach(t, "a")
	slow.Store(false)
	l.dial().mustReach(t, "a")
	if s := l.stats(a.addr); s.SlowDials != 1 || s.TotalFlows != 2 || s.DialErrors != 0 {
		t.Fatalf("one slow and one fast dial: %d slow dials of %d flows, %d dial errors; want 1 of 2, 0", s.SlowDials, s.TotalFlows, s.DialErrors)
	}
}
