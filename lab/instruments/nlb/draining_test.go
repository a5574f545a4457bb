package nlb

import (
	"testing"
	"time"
)

func TestDrainingKeepsExistingFlowsAndRefusesNewOnes(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	b := startBackend(t, "127.0.0.3", "b", nil)
	l := startLab(t, testConfig())
	l.makeHealthy(a.addr, b.addr)
	toA := l.flowTo("a")
	l.settle(1)

	if err := l.nlb.Deregister(Target{Addr: a.addr}); err != nil {
		t.Fatal(err)
	}
	// The AWS lag: until deregistration propagated, a still gets new flows.
	if s := l.stats(a.addr); s.State != StateHealthy || !s.Deregistering || !s.Routable {
		t.Fatalf("deregistration propagating: a is %s, deregistering %v, routable %v; want healthy, true, true", s.State, s.Deregistering, s.Routable)
	}
	late := l.flowTo("a")
	_ = late.c.Close()
	l.settle(1)

	l.clk.Advance(l.cfg.DeregistrationPropagation)
	if s := l.stats(a.addr); s.State != StateDraining || s.Reason != ReasonDeregistrationInProgress {
		t.Fatalf("after propagation: a is %s (%s), want draining", s.State, s.Reason)
	}
	before := l.stats(a.addr).TotalFlows
	if got := l.landings(32); got["b"] != 32 {
		t.Fatalf("32 new flows with a draining landed %v, want all on b", got)
	}
	if s := l.stats(a.addr); s.TotalFlows != before {
		t.Fatalf("draining a got %d new flows", s.TotalFlows-before)
	}

	l.clk.Advance(l.cfg.DeregistrationDelay - time.Nanosecond)
	toA.mustReach(t, "a")
	if s := l.stats(a.addr); s.State != StateDraining || s.ActiveFlows != 1 {
		t.Fatalf("just before the delay ends: a is %s with %d flows, want draining with 1", s.State, s.ActiveFlows)
	}
}

func TestTerminationAtTheEndOfTheDeregistrationDelay(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	cfg := testConfig()
	cfg.TerminateOnDeregistration = true
	l := startLab(t, cfg)
	l.makeHealthy(a.addr)
	toA := l.flowTo("a")
	start := l.clk.Now()

	if err := l.nlb.Deregister(Target{Addr: a.addr}); err != nil {
		t.Fatal(err)
	}
	l.clk.Advance(l.cfg.DeregistrationPropagation + l.cfg.DeregistrationDelay)
	toA.mustBeReset(t)
	s := l.stats(a.addr)
	if s.State != StateUnused || s.Resets != 1 {
		t.Fatalf("after the delay: a is %s with %d resets, want unused with 1", s.State, s.Resets)
	}
	ev := l.nlb.Events()
	e := ev[len(ev)-1]
	if e.From != StateDraining || e.To != StateUnused || !e.Time.Equal(start.Add(480*time.Second)) {
		t.Fatalf("last event %s, want draining→unused at +480s (180 s propagation + 300 s delay)", e)
	}
	l.settle(0)
}

func TestWithoutTerminationFlowsOutliveTheDelay(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	l := startLab(t, testConfig())
	l.makeHealthy(a.addr)
	toA := l.flowTo("a")

	if err := l.nlb.Deregister(Target{Addr: a.addr}); err != nil {
		t.Fatal(err)
	}
	l.clk.Advance(l.cfg.DeregistrationPropagation + l.cfg.DeregistrationDelay)
	if s := l.stats(a.addr); s.State != StateUnused || s.ActiveFlows != 1 || s.Resets != 0 {
		t.Fatalf("after the delay: a is %s with %d flows, %d resets; want unused, 1 flow, 0 resets", s.State, s.ActiveFlows, s.Resets)
	}
	toA.mustReach(t, "a")
	l.mustRejectNewFlow() // no target left
	_ = toA.c.Close()
	l.settle(0)
}

func TestDrainingWithoutFlowsFinishesAtOnce(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	l := startLab(t, testConfig())
	l.makeHealthy(a.addr)
	if err := l.nlb.Deregister(Target{Addr: a.addr}); err != nil {
		t.Fatal(err)
	}
	l.clk.Advance(l.cfg.DeregistrationPropagation)

	ev := l.nlb.Events()
	drain, done := ev[len(ev)-2], ev[len(ev)-1]
	if drain.To != StateDraining || done.From != StateDraining || done.To != StateUnused || !done.Time.Equal(drain.Time) {
		t.Fatalf("events %s / %s, want draining then unused at the same time", drain, done)
	}
	if n := l.clk.Pending(); n != 0 {
		t.Fatalf("%d timers or tickers left after the target is gone", n)
	}
}

func TestDrainingEndsWhenTheLastFlowCloses(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	l := startLab(t, testConfig())
	l.makeHealthy(a.addr)
	toA := l.flowTo("a")
	if err := l.nlb.Deregister(Target{Addr: a.addr}); err != nil {
		t.Fatal(err)
	}
	l.clk.Advance(l.cfg.DeregistrationPropagation)
	if s := l.stats(a.addr); s.State != StateDraining {
		t.Fatalf("a is %s, want draining", s.State)
	}
	_ = toA.c.Close()
	eventually(t, "a unused once its last flow closed", func() bool { return l.stats(a.addr).State == StateUnused })
	if n := l.clk.Pending(); n != 0 {
		t.Fatalf("%d timers or tickers left after the target is gone", n)
	}
}

func TestReRegisterWhileDraining(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	cfg := testConfig()
	cfg.DeregistrationDelay = time.Hour // AWS allows up to 3600 s
	l := startLab(t, cfg)
	l.makeHealthy(a.addr)
	toA := l.flowTo("a")
	if err := l.nlb.Deregister(Target{Addr: a.addr}); err != nil {
		t.Fatal(err)
	}
	l.clk.Advance(l.cfg.DeregistrationPropagation)
	l.makeHealthy(a.addr) // a new registration of the same address

	snap := l.nlb.Snapshot()
	if len(snap.Targets) != 2 || snap.Targets[0].State != StateDraining || snap.Targets[1].State != StateHealthy {
		t.Fatalf("targets %+v, want the old registration draining and the new one healthy", snap.Targets)
	}
	toA.mustReach(t, "a")
	l.flowTo("a")
}
