package nlb

import (
	"net/netip"
	"slices"
	"time"
)

// TargetStats is one registration's state and counters at snapshot time.
type TargetStats struct {
	// Target is the registered target.
	Target Target
	// State and Reason are the current state and the reason of the last change.
	State  State
	Reason string
	// RegisteredAt is when Register was called for this registration.
	RegisteredAt time.Time
	// Routable reports whether the target would get a new flow now.
	Routable bool
	// Deregistering is set once Deregister was called for this registration,
	// including while deregistration propagates and the target still gets flows.
	Deregistering bool
	// HealthChecks counts completed health checks.
	HealthChecks uint64
	// ActiveFlows counts open flows, including those still dialing the target.
	ActiveFlows int
	// TotalFlows counts flows ever sent to the target.
	TotalFlows uint64
	// BytesToTarget and BytesFromTarget count proxied payload; a flow adds
	// its bytes when each direction ends (counting every read would defeat splice).
	BytesToTarget, BytesFromTarget uint64
	// Resets counts client flows the NLB reset: target unhealthy, or
	// termination at the end of the deregistration delay.
	Resets uint64
	// DialErrors counts flows whose connection to the target failed; their
	// clients were reset.
	DialErrors uint64
	// SlowDials counts connections to the target that took SlowDial or
	// longer to establish: a SYN or its answer was lost and retransmitted.
	SlowDials uint64
}

// Snapshot is a consistent view of the NLB.
type Snapshot struct {
	// Time is the NLB clock's time.
	Time time.Time
	// Listen is the listener's address.
	Listen netip.AddrPort
	// FailOpen is true when no target is healthy and new flows go to every
	// registered, non-draining target.
	FailOpen bool
	// Rejected counts client connections reset because no target was routable.
	Rejected uint64
	// Targets lists every registration, past ones included, ordered by
	// address then registration time.
	Targets []TargetStats
}

// Target returns the latest registration of addr.
func (s Snapshot) Target(addr netip.AddrPort) (TargetStats, bool) {
	for _, t := range slices.Backward(s.Targets) {
		if t.Target.Addr == addr {
			return t, true
		}
	}
	return TargetStats{}, false
}

// Snapshot returns the current state and counters.
func (n *NLB) Snapshot() Snapshot {
	n.mu.Lock()
	defer n.mu.Unlock()
	failOpen := n.failOpenLocked()
	s := Snapshot{
		Time:     n.clock.Now(),
		Listen:   n.addr,
		FailOpen: failOpen,
		Rejected: n.rejected,
		Targets:  make([]TargetStats, 0, len(n.targets)),
	}
	for _, t := range n.targets {
		s.Targets = append(s.Targets, TargetStats{
			Target:          t.Target,
			State:           t.state,
			Reason:          t.reason,
			RegisteredAt:    t.registeredAt,
			Routable:        t.routable(failOpen),
			Deregistering:   t.leaving,
			HealthChecks:    t.checks,
			ActiveFlows:     len(t.flows),
			TotalFlows:      t.total,
			BytesToTarget:   t.bytesTo,
			BytesFromTarget: t.bytesFrom,
			Resets:          t.resets,
			DialErrors:      t.dialErrors,
			SlowDials:       t.slowDials,
		})
	}
	return s
}

// Events returns every state change so far, oldest first.
func (n *NLB) Events() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.events)
}
