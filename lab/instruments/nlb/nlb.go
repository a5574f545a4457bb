package nlb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// NLB is a running listener with one target group. Its methods are safe for
// concurrent use.
type NLB struct {
	cfg    Config // scaled
	dialer *net.Dialer
	clock  Clock
	ln     *net.TCPListener
	addr   netip.AddrPort
	http   *http.Client

	// ctx ends when the NLB closes; health checks and dials use it.
	ctx      context.Context
	cancel   context.CancelFunc
	stopCtx  func() bool
	wg       sync.WaitGroup
	close    sync.Once
	closeErr error

	mu       sync.Mutex
	closed   bool
	targets  []*target                  // every registration, sorted by address then registration
	live     map[netip.AddrPort]*target // the registration Deregister would end
	events   []Event
	rejected uint64
	scratch  []*target // candidates of one pick, reused under mu
}

// Start validates cfg, listens on cfg.Listen and serves until ctx ends or
// Close is called. The NLB starts with no target: connections are reset
// until a registered target exists.
func Start(ctx context.Context, cfg Config) (*NLB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("nlb config: %w", err)
	}
	cfg = cfg.Scaled()
	// No TCP keep-alive probes: AWS sends none, and each costs setsockopt
	// calls on the connection path.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("nlb listen on %s: %w", cfg.Listen, err)
	}
	tl := ln.(*net.TCPListener)
	n := &NLB{
		dialer: &net.Dialer{KeepAlive: -1},
		cfg:    cfg,
		clock:  cfg.Clock,
		ln:     tl,
		addr:   tl.Addr().(*net.TCPAddr).AddrPort(),
		live:   map[netip.AddrPort]*target{},
	}
	n.http = &http.Client{
		// A new connection per check, as AWS makes.
		Transport: &http.Transport{DialContext: n.dialString, DisableKeepAlives: true},
		// A health check judges the first answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	n.ctx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	n.stopCtx = context.AfterFunc(ctx, func() { _ = n.Close() })
	n.wg.Add(1)
	go n.serve()
	return n, nil
}

// dial connects to a target with Config.Dial or the NLB's own dialer.
// (Dialer.DialTCP would bind before connecting, which takes an ephemeral
// port per connection from the whole range instead of per destination.)
func (n *NLB) dial(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	return n.dialString(ctx, "tcp", addr.String())
}

// dialString is dial for net/http, whose addresses are host:port strings.
func (n *NLB) dialString(ctx context.Context, network, addr string) (net.Conn, error) {
	if n.cfg.Dial != nil {
		return n.cfg.Dial(ctx, network, addr)
	}
	return n.dialer.DialContext(ctx, network, addr)
}

// Addr returns the listener's address.
func (n *NLB) Addr() netip.AddrPort { return n.addr }

// Close stops the listener, the timers and the health checks, closes every
// flow and waits until all of the NLB's goroutines have returned.
func (n *NLB) Close() error {
	n.close.Do(func() {
		n.stopCtx()
		n.mu.Lock()
		n.closed = true
		var flows []*flow
		for _, t := range n.targets {
			t.stopTimers()
			for f := range t.flows {
				flows = append(flows, f)
			}
		}
		n.mu.Unlock()
		if err := n.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			n.closeErr = fmt.Errorf("close nlb listener %s: %w", n.addr, err)
		}
		n.cancel()
		for _, f := range flows {
			f.close()
		}
		n.wg.Wait()
		n.http.CloseIdleConnections()
	})
	return n.closeErr
}

// Register adds t to the target group. Like AWS, it takes
// RegistrationPropagation to take effect; then the target is health-checked
// and gets flows once it passed HealthyThreshold checks (or while the NLB
// fails open). Registering a registered target does nothing.
func (n *NLB) Register(t Target) error {
	if !t.Addr.IsValid() || t.Addr.Port() == 0 {
		return fmt.Errorf("register target %q: it needs an IP and a port", t)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return fmt.Errorf("register target %s: the NLB is closed", t)
	}
	if _, ok := n.live[t.Addr]; ok {
		return nil
	}
	tg := &target{Target: t, registeredAt: n.clock.Now(), state: StateUnused, flows: map[*flow]struct{}{}}
	n.live[t.Addr] = tg
	n.targets = append(n.targets, tg)
	slices.SortStableFunc(n.targets, func(a, b *target) int { return a.Addr.Compare(b.Addr) })
	n.setStateLocked(tg, StateInitial, ReasonRegistrationInProgress,
		fmt.Sprintf("takes effect in %v", n.cfg.RegistrationPropagation))
	tg.regTimer = n.afterFunc(n.cfg.RegistrationPropagation, func() []*flow {
		if tg.state != StateInitial || tg.propagated {
			return nil
		}
		tg.propagated = true
		n.setStateLocked(tg, StateInitial, ReasonInitialHealthChecking,
			fmt.Sprintf("first check in %v, healthy after %d passes", n.cfg.HealthCheck.Interval, n.cfg.HealthCheck.HealthyThreshold))
		n.startHealthChecksLocked(tg)
		return nil
	})
	return nil
}

// Deregister removes t from the target group. Like AWS, the target keeps
// getting new flows for DeregistrationPropagation; then it is draining: no
// new flows, its flows go on for DeregistrationDelay, then they are reset
// when TerminateOnDeregistration is set, and the target is unused. A
// draining target without flows is unused at once. Deregistering an unknown
// target does nothing.
func (n *NLB) Deregister(t Target) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return fmt.Errorf("deregister target %s: the NLB is closed", t)
	}
	tg, ok := n.live[t.Addr]
	if !ok {
		return nil
	}
	delete(n.live, t.Addr)
	tg.leaving = true
	n.setStateLocked(tg, tg.state, ReasonDeregistrationRequested,
		fmt.Sprintf("new flows still arrive for %v", n.cfg.DeregistrationPropagation))
	tg.deregTimer = n.afterFunc(n.cfg.DeregistrationPropagation, func() []*flow {
		return n.drainLocked(tg)
	})
	return nil
}

// drainLocked moves tg to draining when deregistration took effect.
func (n *NLB) drainLocked(tg *target) []*flow {
	if tg.regTimer != nil {
		tg.regTimer.Stop()
	}
	tg.stopHealthChecks()
	n.setStateLocked(tg, StateDraining, ReasonDeregistrationInProgress,
		fmt.Sprintf("%d flows, delay %v", len(tg.flows), n.cfg.DeregistrationDelay))
	if len(tg.flows) == 0 {
		n.setStateLocked(tg, StateUnused, ReasonNotRegistered, "no flows: deregistration completes at once")
		return nil
	}
	if n.cfg.DeregistrationDelay == 0 {
		return n.finishLocked(tg)
	}
	tg.drainTimer = n.afterFunc(n.cfg.DeregistrationDelay, func() []*flow {
		if tg.state != StateDraining {
			return nil
		}
		return n.finishLocked(tg)
	})
	return nil
}

// finishLocked ends the deregistration delay of tg.
func (n *NLB) finishLocked(tg *target) []*flow {
	if !n.cfg.TerminateOnDeregistration {
		n.setStateLocked(tg, StateUnused, ReasonNotRegistered,
			fmt.Sprintf("deregistration delay ended; %d flows go on (connection termination off)", len(tg.flows)))
		return nil
	}
	resets := n.resetFlowsLocked(tg)
	n.setStateLocked(tg, StateUnused, ReasonNotRegistered,
		fmt.Sprintf("deregistration delay ended; %d flows reset", len(resets)))
	return resets
}

// flowEndedLocked completes a draining target's deregistration when its last
// flow ends, as AWS does once no connection is left.
func (n *NLB) flowEndedLocked(tg *target) {
	if tg.state == StateDraining && len(tg.flows) == 0 {
		if tg.drainTimer != nil {
			tg.drainTimer.Stop()
		}
		n.setStateLocked(tg, StateUnused, ReasonNotRegistered, "last flow ended: deregistration completes")
	}
}

func (n *NLB) setStateLocked(tg *target, to State, reason, detail string) {
	e := Event{Time: n.clock.Now(), Target: tg.Target, From: tg.state, To: to, Reason: reason, Detail: detail}
	tg.state, tg.reason = to, reason
	n.events = append(n.events, e)
	n.cfg.Logger.Info("nlb target", "target", tg.String(), "from", string(e.From), "to", string(e.To),
		"reason", reason, "detail", detail)
}

// failOpenLocked reports whether no target is healthy, so that new flows go
// to every registered, non-draining target.
func (n *NLB) failOpenLocked() bool {
	for _, t := range n.targets {
		if t.state == StateHealthy {
			return false
		}
	}
	return true
}

// afterFunc runs f under n.mu after d on the NLB's clock, unless the NLB
// closed; then it resets the flows f returned, outside the lock.
func (n *NLB) afterFunc(d time.Duration, f func() []*flow) Timer {
	return n.clock.AfterFunc(d, func() {
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return
		}
		n.wg.Add(1)
		defer n.wg.Done()
		resets := f()
		n.mu.Unlock()
		for _, fl := range resets {
			fl.reset()
		}
	})
}
