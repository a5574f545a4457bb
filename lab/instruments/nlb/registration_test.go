package nlb

import (
	"testing"
	"time"
)

func TestRegistrationTakesEffectAfterThePropagationDelay(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	l := startLab(t, testConfig())
	start := l.clk.Now()
	l.register(a.addr)

	// Until the registration propagated, the target gets nothing: not even
	// failing open, since it is not registered yet.
	l.clk.Advance(180*time.Second - time.Nanosecond)
	l.mustRejectNewFlow()
	if s := l.nlb.Snapshot(); s.Rejected != 1 {
		t.Fatalf("rejected = %d, want 1", s.Rejected)
	}
	if s := l.stats(a.addr); s.State != StateInitial || s.Reason != ReasonRegistrationInProgress || s.Routable || s.HealthChecks != 0 {
		t.Fatalf("before 180 s: %+v", s)
	}

	l.clk.Advance(time.Nanosecond)
	ev := l.nlb.Events()
	last := ev[len(ev)-1]
	if last.Reason != ReasonInitialHealthChecking || !last.Time.Equal(start.Add(180*time.Second)) {
		t.Fatalf("last event %s, want %s at +180s", last, ReasonInitialHealthChecking)
	}
	// Registered but not healthy yet: the only target, so the NLB fails open.
	if s := l.nlb.Snapshot(); !s.FailOpen {
		t.Fatal("one initial target and no healthy one, but not failing open")
	}
	l.dial().mustReach(t, "a")
}

func TestHealthyThresholdBeforeTraffic(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	b := startBackend(t, "127.0.0.3", "b", nil)
	l := startLab(t, testConfig())
	l.makeHealthy(a.addr)

	l.register(b.addr)
	l.clk.Advance(l.cfg.RegistrationPropagation)
	for i := 1; i < l.cfg.HealthCheck.HealthyThreshold; i++ {
		l.tick(a.addr, b.addr)
		if s := l.stats(b.addr); s.State != StateInitial || s.Routable {
			t.Fatalf("after %d passes: b is %s, routable %v; want initial, not routable", i, s.State, s.Routable)
		}
	}
	// Four passes of five: a healthy target exists, so b gets nothing.
	if got := l.landings(32); got["b"] != 0 || got["a"] != 32 {
		t.Fatalf("32 flows before b passed 5 checks landed %v, want all on a", got)
	}
	l.settle(0)
	if s := l.stats(b.addr); s.TotalFlows != 0 {
		t.Fatalf("b got %d flows before it was healthy", s.TotalFlows)
	}

	l.tick(a.addr, b.addr)
	s := l.stats(b.addr)
	if s.State != StateHealthy || s.HealthChecks != 5 {
		t.Fatalf("after 5 passes: b is %s after %d checks, want healthy after 5", s.State, s.HealthChecks)
	}
	ev := l.nlb.Events()
	if e := ev[len(ev)-1]; e.Target.Addr != b.addr || e.From != StateInitial || e.To != StateHealthy {
		t.Fatalf("last event %s, want b initial→healthy", e)
	}
	l.flowTo("b")
}
