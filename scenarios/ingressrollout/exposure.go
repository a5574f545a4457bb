package ingressrollout

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/loadprobe"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/instruments/nlbtargets"
)

// Exposure is a time a target got new flows from the NLB while nothing
// behind it could serve them: what makes the pitfall's requests fail.
type Exposure struct {
	// Target is the node (instance) or pod (ip).
	Target     string
	Start, End time.Time
	// Why says what the NLB believed meanwhile.
	Why string
}

func (e Exposure) String() string {
	return fmt.Sprintf("%s for %.1f s while %s", e.Target, e.End.Sub(e.Start).Seconds(), e.Why)
}

// interval is a time span; a zero End means it was still open at the end.
type interval struct{ start, end time.Time }

// routedIntervals returns, per target address, when the NLB marked it
// healthy (and so sent it new flows), up to end. Times the NLB failed
// open are not counted: the scenario waits for a healthy target group
// before its load starts, and the fix never leaves it without one.
func routedIntervals(events []nlb.Event, end time.Time) map[netip.AddrPort][]interval {
	out := map[netip.AddrPort][]interval{}
	open := map[netip.AddrPort]time.Time{}
	for _, e := range events {
		a := e.Target.Addr
		routed := e.To == nlb.StateHealthy
		if t, isOpen := open[a]; isOpen && !routed {
			out[a] = append(out[a], interval{t, e.Time})
			delete(open, a)
		} else if !isOpen && routed {
			open[a] = e.Time
		}
	}
	for a, t := range open {
		out[a] = append(out[a], interval{t, end})
	}
	return out
}

// NodeExposures intersects the nodes' gaps without a ready local endpoint
// with the times the NLB still marked their instance target healthy: "node
// X had no local endpoint for 7.2 s while the NLB still marked it healthy".
// Exposures shorter than min are left out (kube-proxy's own sync lag).
func NodeExposures(gaps []nlbtargets.Gap, events []nlb.Event, nodeOf func(netip.AddrPort) string, end time.Time, min time.Duration) []Exposure {
	var out []Exposure
	for addr, ivs := range routedIntervals(events, end) {
		node := nodeOf(addr)
		for _, g := range gaps {
			if g.Node != node {
				continue
			}
			gEnd := g.End
			if gEnd.IsZero() {
				gEnd = end
			}
			for _, iv := range ivs {
				s, e := later(g.Start, iv.start), earlier(gEnd, iv.end)
				if e.Sub(s) >= min {
					out = append(out, Exposure{Target: "node " + node + " had no local endpoint", Start: s, End: e,
						Why: "the NLB still marked it healthy"})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Exposure) int { return a.Start.Compare(b.Start) })
	return out
}

// PodExposures intersects the time after each pod began terminating with
// the times the NLB still sent its ip target new flows: "pod X terminating
// for 6.0 s while the NLB still sent it new flows".
func PodExposures(events []loadprobe.Event, nlbEvents []nlb.Event, end time.Time, min time.Duration) []Exposure {
	terminating := map[string]time.Time{}
	for _, e := range events {
		if e.Kind == loadprobe.KindPodTerminating {
			if _, ok := terminating[e.Subject]; !ok {
				terminating[e.Subject] = e.At
			}
		}
	}
	names := map[netip.AddrPort]string{}
	for _, e := range nlbEvents {
		names[e.Target.Addr] = e.Target.Name
	}
	var out []Exposure
	for addr, ivs := range routedIntervals(nlbEvents, end) {
		start, ok := terminating[names[addr]]
		if !ok {
			continue
		}
		for _, iv := range ivs {
			s, e := later(start, iv.start), iv.end
			if e.Sub(s) >= min {
				out = append(out, Exposure{Target: "pod " + names[addr] + " terminating", Start: s, End: e,
					Why: "the NLB still sent it new flows (deregistration not yet propagated)"})
			}
		}
	}
	slices.SortFunc(out, func(a, b Exposure) int { return a.Start.Compare(b.Start) })
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// FailureReport summarises a probe's failures: counts per class, and per
// explaining event kind and subject, for spec output.
func FailureReport(r *loadprobe.Result, events []loadprobe.Event) string {
	atts := r.Attribute(events)
	type key struct{ outcome, event string }
	counts := map[key]int{}
	unexplained := 0
	for _, a := range atts {
		k := key{outcome: string(a.Request.Outcome)}
		if a.Event == nil {
			unexplained++
			k.event = "no rollout event within the window"
		} else {
			k.event = a.Event.Kind + " " + a.Event.Subject
		}
		counts[k]++
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return counts[b] - counts[a] })
	var lines []string
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%d %s after %s", counts[k], k.outcome, k.event))
	}
	return strings.Join(lines, "; ")
}
