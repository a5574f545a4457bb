package nlb

import (
	"fmt"
	"net/netip"
	"time"
)

// Target is a destination of the target group: a node IP and NodePort for
// instance targets, a pod IP and port for ip targets. The NLB identifies a
// target by Addr; Name only labels events and snapshots.
type Target struct {
	// Addr is the IP and port flows go to.
	Addr netip.AddrPort
	// Name is an optional label such as a node or pod name.
	Name string
}

// String returns "name(addr)" or the address alone.
func (t Target) String() string {
	if t.Name == "" {
		return t.Addr.String()
	}
	return fmt.Sprintf("%s(%s)", t.Name, t.Addr)
}

// State is a target's health state, named as in the AWS TargetHealth API.
type State string

const (
	// StateUnused is a target that is not (or no longer) registered.
	StateUnused State = "unused"
	// StateInitial is a target being registered or waiting to pass its first
	// HealthyThreshold checks. It gets new flows only when the NLB fails open.
	StateInitial State = "initial"
	// StateHealthy targets get new flows.
	StateHealthy State = "healthy"
	// StateUnhealthy targets get new flows only when the NLB fails open;
	// their flows are reset when it does not.
	StateUnhealthy State = "unhealthy"
	// StateDraining targets get no new flows; their flows go on until the
	// deregistration delay ends.
	StateDraining State = "draining"
)

// Reasons recorded with state changes. The Elb.* and Target.* codes are AWS's
// TargetHealth reason codes; nlb.* codes mark steps AWS does not report.
const (
	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonHealthy                  = "nlb.HealthyThresholdReached"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonTimeout                  = "Target.Timeout"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonDeregistrationRequested  = "nlb.DeregistrationRequested"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonNotRegistered            = "Target.NotRegistered"
)

// Event is one change of a target's state or reason.
type Event struct {
	// Time is the NLB clock's time of the change.
	Time time.Time
	// Target is the target that changed.
	Target Target
	// From and To are the states before and after; equal when only the reason changed.
	From, To State
	// Reason is an AWS reason code or an nlb.* code (see the Reason constants).
	Reason string
	// Detail says what the NLB saw, such as the failed check's error.
	Detail string
}

// String formats the event for logs and failure dumps.
func (e Event) String() string {
	s := fmt.Sprintf("%s %s %s→%s %s", e.Time.Format("15:04:05.000"), e.Target, e.From, e.To, e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// target is one registration of a Target: registering an address again
// after deregistering it makes a new one, while the old one drains.
type target struct {
	Target
	registeredAt time.Time
	state        State
	reason       string
	// propagated is set when the registration took effect: health checks run.
	propagated bool
	// leaving is set by Deregister: the registration is going away.
	leaving bool

	okRun, failRun int

	checks, total, bytesTo, bytesFrom, resets, dialErrors, slowDials uint64
	flows                                                            map[*flow]struct{}

	regTimer, deregTimer, drainTimer, unhealthyTimer Timer
	stopHealth                                       chan struct{}
	ticker                                           Ticker
}

// routable reports whether the target may get new flows: healthy ones
// always, initial (registered) and unhealthy ones when failing open.
func (t *target) routable(failOpen bool) bool {
	if !t.propagated {
		return false
	}
	switch t.state {
	case StateHealthy:
		return true
	case StateInitial, StateUnhealthy:
		return failOpen
	}
	return false
}

func (t *target) stopTimers() {
	for _, tm := range []Timer{t.regTimer, t.deregTimer, t.drainTimer, t.unhealthyTimer} {
		if tm != nil {
			tm.Stop()
		}
	}
	t.stopHealthChecks()
}

func (t *target) stopHealthChecks() {
	if t.stopHealth != nil {
		close(t.stopHealth)
		t.stopHealth = nil
		t.ticker.Stop()
	}
}
