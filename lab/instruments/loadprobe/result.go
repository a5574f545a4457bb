package loadprobe

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// Connection modes of Request.Conn.
const (
	ConnNew       = "new"
	ConnKeepAlive = "keepalive"
)

// Request is one request's record.
type Request struct {
	// Start and End are when the request was sent and when it ended (body
	// read or error).
	Start, End time.Time
	// Conn is ConnNew or ConnKeepAlive, the mode the request was sent in.
	Conn string
	// Reused is set when the request went on an already open connection.
	Reused bool
	// Attempts counts connections the request got: 1, or 0 when it failed
	// before having one (refused, dial timeout).
	Attempts int
	// Resent is set when the server had closed the reused keep-alive
	// connection before answering (FIN, no response byte) and the request
	// was sent again on a new connection; FirstErr is that first error.
	// Outcome is the second attempt's.
	Resent   bool
	FirstErr string
	// Outcome is the request's class; Status its HTTP status (0 without a
	// response) and Err its error, if any.
	Outcome Outcome
	Status  int
	Err     string
}

// Failed reports whether the request did not end OK.
func (q Request) Failed() bool { return q.Outcome != OK }

// Result is what Run recorded.
type Result struct {
	// URL is the probed URL.
	URL string
	// Start and End bound the run: pacing started, last request ended.
	Start, End time.Time
	// Stop says which bound stopped the run.
	Stop Stop
	// Requests lists every request sent, by start time.
	Requests []Request
	// Counts counts Requests per Outcome.
	Counts map[Outcome]int
	// Skipped counts pacing slots not sent because every worker was busy.
	Skipped int
	// Window is the attribution window of Attribute (DefaultWindow when 0).
	Window time.Duration
}

// Failures returns the requests that did not end OK, by start time.
func (r *Result) Failures() []Request {
	var out []Request
	for _, q := range r.Requests {
		if q.Failed() {
			out = append(out, q)
		}
	}
	return out
}

// Failed counts the requests that did not end OK.
func (r *Result) Failed() int { return len(r.Requests) - r.Counts[OK] }

// Summary is one line for logs and specs, such as
// "1000 requests in 2.001s (stopped: max-requests): 998 ok, 2 reset; 500 on new connections, 500 keep-alive".
func (r *Result) Summary() string {
	var parts []string
	for _, o := range Outcomes {
		if n := r.Counts[o]; n > 0 || o == OK {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	ka := 0
	for _, q := range r.Requests {
		if q.Conn == ConnKeepAlive {
			ka++
		}
	}
	s := fmt.Sprintf("%d requests in %v (stopped: %s): %s; %d on new connections, %d keep-alive",
		len(r.Requests), r.End.Sub(r.Start).Round(time.Millisecond), r.Stop, strings.Join(parts, ", "), len(r.Requests)-ka, ka)
	if n := r.Resent(); n > 0 {
		s += fmt.Sprintf("; %d resent after the server closed an idle keep-alive connection", n)
	}
	if r.Skipped > 0 {
		s += fmt.Sprintf("; %d slots skipped, every worker busy", r.Skipped)
	}
	return s
}

// Latency summarises how long the requests that ended OK took.
type Latency struct {
	// P50, P99 and Max are percentiles of the OK requests' durations.
	P50, P99, Max time.Duration
	// Threshold is the duration from which an OK request counts as slow;
	// Slow are those requests, by start time.
	Threshold time.Duration
	Slow      []Request
}

// String is one line such as "p50 2ms, p99 9ms, max 1.02s; 3 ok requests took ≥ 1s".
func (l Latency) String() string {
	return fmt.Sprintf("p50 %v, p99 %v, max %v; %d ok requests took ≥ %v",
		l.P50.Round(time.Millisecond), l.P99.Round(time.Millisecond), l.Max.Round(time.Millisecond), len(l.Slow), l.Threshold)
}

// Latency returns the percentiles of the OK requests' durations and those
// that took slow or longer.
func (r *Result) Latency(slow time.Duration) Latency {
	var d []time.Duration
	l := Latency{Threshold: slow}
	for _, q := range r.Requests {
		if q.Failed() {
			continue
		}
		took := q.End.Sub(q.Start)
		d = append(d, took)
		if took >= slow {
			l.Slow = append(l.Slow, q)
		}
	}
	if len(d) == 0 {
		return l
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	l.P50, l.P99, l.Max = at(0.50), at(0.99), d[len(d)-1]
	return l
}

// Resent counts the requests sent a second time because the server had
// closed their reused connection before answering (Request.Resent).
func (r *Result) Resent() int {
	n := 0
	for _, q := range r.Requests {
		if q.Resent {
			n++
		}
	}
	return n
}

// Event kinds of a rollout, as scenarios and FromNLB name them.
const (
	KindPodTerminating   = "pod-terminating"
	KindEndpointsRemoved = "endpoints-removed"
	KindTargetUnhealthy  = "target-unhealthy"
	KindTargetDraining   = "target-draining"
)

// Event is a rollout event that may explain failures.
type Event struct {
	// At is when the event happened.
	At time.Time
	// Kind is one of the Kind constants or another kebab-case name.
	Kind string
	// Subject is the node, pod or target concerned.
	Subject string
	// Detail says more, such as the NLB's reason code.
	Detail string
}

// String formats the event for captions and failure messages.
func (e Event) String() string {
	s := fmt.Sprintf("%s %s %s", e.At.Format("15:04:05.000"), e.Kind, e.Subject)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// FromNLB converts the emulator's event log: a state change becomes
// "target-<new state>" (KindTargetUnhealthy, KindTargetDraining, ...), a
// deregistration request that keeps the state "target-deregistering".
func FromNLB(events []nlb.Event) []Event {
	out := make([]Event, 0, len(events))
	for _, e := range events {
		kind := "target-" + string(e.To)
		if e.From == e.To && e.Reason == nlb.ReasonDeregistrationRequested {
			kind = "target-deregistering"
		}
		detail := e.Reason
		if e.Detail != "" {
			detail += ": " + e.Detail
		}
		out = append(out, Event{At: e.Time, Kind: kind, Subject: e.Target.String(), Detail: detail})
	}
	return out
}

// Attribution ties a failure to the event that most likely caused it.
type Attribution struct {
	// Request is the failed request.
	Request Request
	// Event is the latest event at or before Request.End within the
	// window, or nil when there is none.
	Event *Event
	// Lag is Request.End minus Event.At.
	Lag time.Duration
}

// String says what failed and after which event, for spec output.
func (a Attribution) String() string {
	s := fmt.Sprintf("%s %s (%s", a.Request.End.Format("15:04:05.000"), a.Request.Outcome, a.Request.Conn)
	if a.Request.Status != 0 {
		s += fmt.Sprintf(", status %d", a.Request.Status)
	}
	s += ")"
	if a.Event == nil {
		return s + ": no event in the window before it"
	}
	return fmt.Sprintf("%s: %v after %s", s, a.Lag.Round(time.Millisecond), a.Event)
}

// Attribute returns one Attribution per failure, in the order of
// Failures. A failure is attributed at its End, when it was observed, to
// the latest event at or before that time and no older than the window
// (Result.Window): a timeout may start before its cause. Events need not
// be sorted; at equal times the last one given wins.
func (r *Result) Attribute(events []Event) []Attribution {
	return r.AttributeRequests(r.Failures(), events)
}

// AttributeRequests attributes the requests qs, failed or not (a slow one,
// say), as Attribute does failures.
func (r *Result) AttributeRequests(qs []Request, events []Event) []Attribution {
	window := r.Window
	if window <= 0 {
		window = DefaultWindow
	}
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b Event) int { return a.At.Compare(b.At) })
	var out []Attribution
	for _, q := range qs {
		a := Attribution{Request: q}
		// The first event after q.End; the one before it is the latest at or before.
		i, _ := slices.BinarySearchFunc(sorted, q.End, func(e Event, t time.Time) int {
			if e.At.After(t) {
				return 1
			}
			return -1
		})
		if i > 0 {
			if e := sorted[i-1]; q.End.Sub(e.At) <= window {
				a.Event, a.Lag = &e, q.End.Sub(e.At)
			}
		}
		out = append(out, a)
	}
	return out
}

// Timeline returns the run as a plot: one rate series per outcome that
// occurred ("ok", "reset", ...), requests counted when they ended, and
// events as markers (kind, "subject: detail").
func (r *Result) Timeline(title string, events []Event) *timeline.Timeline {
	rec := timeline.NewRecorder(title, "requests/s", r.Start)
	for _, q := range r.Requests {
		rec.Event(string(q.Outcome), q.End)
	}
	for _, e := range events {
		text := e.Subject
		if e.Detail != "" {
			text += ": " + e.Detail
		}
		rec.Mark(e.At, e.Kind, text)
	}
	return rec.Build(Bucket, r.End)
}
