package ingressrollout

import (
	"fmt"
	"strings"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/loadprobe"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
)

// Outcome is what one spec measured.
type Outcome struct {
	Type   nlb.TargetType
	Tuning Tuning
	// Rollouts is how many rollouts ran under load.
	Rollouts int
	// Result is the load probe's record; Baseline the requests that ended
	// before the first rollout.
	Result           *loadprobe.Result
	Baseline         int
	BaselineFailures []loadprobe.Request
	// Events are the rollout events (restarts, pods terminating, endpoints
	// removed, NLB target state changes) in time order.
	Events    []loadprobe.Event
	NLBEvents []nlb.Event
	// Failures are the failed requests with the event each is attributed to.
	Failures []loadprobe.Attribution
	// Exposures are the times the NLB sent new flows where nothing served.
	Exposures []Exposure
	// Targets are the NLB's per-target counters at the end.
	Targets []nlb.TargetStats
	// Residue is, for instance targets, what the nodes' conntrack tables
	// still pin to deleted pods once the load ended.
	Residue []Residue
}

// TargetCounters formats the targets that reset flows, failed dials or
// dialled slowly.
func (o *Outcome) TargetCounters() string {
	var s []string
	for _, t := range o.Targets {
		if t.Resets > 0 || t.DialErrors > 0 || t.SlowDials > 0 {
			s = append(s, fmt.Sprintf("%s: %d flows, %d reset by the NLB, %d failed dials, %d dials ≥ %v", t.Target, t.TotalFlows, t.Resets, t.DialErrors, t.SlowDials, nlb.SlowDial))
		}
	}
	if len(s) == 0 {
		return "no target reset a flow, failed a dial or took ≥ " + nlb.SlowDial.String() + " to connect"
	}
	return strings.Join(s, "; ")
}

// detail is a failure with its error and how long it took.
func detail(a loadprobe.Attribution) string {
	q := a.Request
	how := q.Conn
	if q.Reused {
		how += ", reused connection"
	}
	if q.Resent {
		how += ", resent on a new connection after: " + q.FirstErr
	}
	took := q.End.Sub(q.Start).Round(requestRound)
	if q.Err == "" {
		return fmt.Sprintf("%s [%s; took %s]", a, how, took)
	}
	return fmt.Sprintf("%s [%s; after %s: %s]", a, how, took, q.Err)
}

// details formats failures with detail, for error messages.
func details(as []loadprobe.Attribution) string {
	var lines []string
	for _, a := range as {
		lines = append(lines, detail(a))
	}
	return strings.Join(lines, "; ")
}

// requests formats requests with when they ended, how they failed and
// after how long, for error messages.
func requests(qs []loadprobe.Request) string {
	var s []string
	for _, q := range qs {
		s = append(s, fmt.Sprintf("%s %s %s after %s: %s", q.End.Format("15:04:05.000"), q.Outcome, q.Conn, q.End.Sub(q.Start).Round(requestRound), q.Err))
	}
	return strings.Join(s, "; ")
}

// Transitions counts NLB state changes into state, per target, that
// happened after from.
func (o *Outcome) Transitions(state nlb.State, from time.Time) int {
	n := 0
	for _, e := range o.NLBEvents {
		if e.To == state && e.From != state && !e.Time.Before(from) {
			n++
		}
	}
	return n
}

// FirstRollout is when the first rollout started.
func (o *Outcome) FirstRollout() time.Time {
	for _, e := range o.Events {
		if e.Kind == KindRollout {
			return e.At
		}
	}
	return time.Time{}
}

// logLatency reports how long the requests that got through took and
// which rollout events the slow ones followed: a request that took over a
// second on a new connection lost a SYN on the way, a near miss that a
// shorter client timeout would have counted as a failure.
func (r *Runbook) logLatency(o *Outcome) {
	l := o.Result.Latency(nlb.SlowDial)
	r.env.Logf("latency of the ok requests: %s; NLB: %s", l, o.TargetCounters())
	for _, a := range first(o.Result.AttributeRequests(l.Slow, o.Events), 5) {
		r.env.Logf("  slow: %s", detail(a))
	}
}

// first returns at most n elements of s.
func first[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// nlbLog formats NLB events for error messages.
func nlbLog(events []nlb.Event) string {
	var s []string
	for _, e := range events {
		s = append(s, e.String())
	}
	return strings.Join(s, "; ")
}
