package loadprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/nlb"
)

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	op := func(e error) error {
		return &url.Error{Op: "Get", URL: "http://127.0.0.1/", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", e)}}
	}
	for _, tc := range []struct {
		status int
		err    error
		want   Outcome
	}{
		{200, nil, OK},
		{204, nil, OK},
		{301, nil, OK},
		{404, nil, Other},
		{500, nil, HTTP5xx},
		{503, nil, HTTP5xx},
		{0, op(syscall.ECONNREFUSED), Refused},
		{0, op(syscall.ECONNRESET), Reset},
		{0, op(syscall.EPIPE), Reset},
		{0, &url.Error{Op: "Get", Err: io.EOF}, Reset},
		{200, fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), Reset},
		{0, &url.Error{Op: "Get", Err: context.DeadlineExceeded}, Timeout},
		{0, &net.OpError{Op: "dial", Err: timeoutErr{}}, Timeout},
		{0, errors.New("tls: bad certificate"), Other},
	} {
		if got := Classify(tc.status, tc.err); got != tc.want {
			t.Errorf("Classify(%d, %v) = %s, want %s", tc.status, tc.err, got, tc.want)
		}
	}
}

var t0 = time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func failure(endMs int, o Outcome) Request {
	return Request{Start: at(endMs - 5), End: at(endMs), Conn: ConnKeepAlive, Outcome: o}
}

func TestAttribute(t *testing.T) {
	events := []Event{ // unsorted on purpose
		{At: at(5000), Kind: KindTargetUnhealthy, Subject: "node-b"},
		{At: at(1000), Kind: KindPodTerminating, Subject: "traefik-1"},
		{At: at(2000), Kind: KindEndpointsRemoved, Subject: "node-a"},
		{At: at(2000), Kind: KindTargetDraining, Subject: "node-a"},
	}
	for _, tc := range []struct {
		name    string
		window  time.Duration
		events  []Event
		req     Request
		subject string // "" for no event
		kind    string
		lag     time.Duration
	}{
		{name: "before any event", events: events, req: failure(500, Reset)},
		{name: "at the event", events: events, req: failure(1000, Refused), subject: "traefik-1", kind: KindPodTerminating},
		{name: "latest before", events: events, req: failure(4999, Reset), subject: "node-a", kind: KindTargetDraining, lag: 2999 * time.Millisecond},
		{name: "equal times: last given wins", events: events, req: failure(2000, Reset), subject: "node-a", kind: KindTargetDraining},
		{name: "after the last", events: events, req: failure(6000, Timeout), subject: "node-b", kind: KindTargetUnhealthy, lag: time.Second},
		{name: "default window edge", events: events, req: failure(35000, Reset), subject: "node-b", kind: KindTargetUnhealthy, lag: 30 * time.Second},
		{name: "past the default window", events: events, req: failure(35001, Reset)},
		{name: "short window", window: 500 * time.Millisecond, events: events, req: failure(1600, Reset)},
		{name: "short window hit", window: 500 * time.Millisecond, events: events, req: failure(5400, Reset), subject: "node-b", kind: KindTargetUnhealthy, lag: 400 * time.Millisecond},
		{name: "no events", req: failure(1000, HTTP5xx)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok := Request{Start: at(999), End: at(1001), Outcome: OK}
			r := &Result{Requests: []Request{ok, tc.req}, Window: tc.window}
			got := r.Attribute(tc.events)
			if len(got) != 1 || got[0].Request != tc.req {
				t.Fatalf("Attribute = %+v, want one attribution of %+v", got, tc.req)
			}
			a := got[0]
			t.Log(a)
			switch {
			case tc.subject == "" && a.Event != nil:
				t.Errorf("attributed to %v, want none", a.Event)
			case tc.subject == "":
			case a.Event == nil:
				t.Errorf("no event, want %s %s", tc.kind, tc.subject)
			case a.Event.Subject != tc.subject || a.Event.Kind != tc.kind || a.Lag != tc.lag:
				t.Errorf("attributed to %v after %v, want %s %s after %v", a.Event, a.Lag, tc.kind, tc.subject, tc.lag)
			}
		})
	}
	if events[0].Subject != "node-b" {
		t.Error("Attribute reordered the caller's events")
	}
}

func TestTimeline(t *testing.T) {
	r := &Result{Start: t0, End: at(1000), Requests: []Request{
		{End: at(10), Outcome: OK}, {End: at(20), Outcome: OK}, {End: at(150), Outcome: OK},
		{End: at(420), Outcome: Reset}, {End: at(430), Outcome: Reset}, {End: at(900), Outcome: Timeout},
	}}
	tl := r.Timeline("ingress-rollout pitfall", []Event{{At: at(400), Kind: KindTargetUnhealthy, Subject: "node-b", Detail: "Target.FailedHealthChecks"}})
	if tl.Title != "ingress-rollout pitfall" || !tl.Start.Equal(t0) {
		t.Errorf("timeline = %+v", tl)
	}
	for series, want := range map[string]float64{"ok": 3, "reset": 2, "timeout": 1, "refused": 0} {
		if got := tl.Total(series, Bucket); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("%s total = %v, want %v", series, got, want)
		}
	}
	for _, s := range tl.Series {
		if s.Name == "reset" && (len(s.Points) != 11 || s.Points[4].V != 20) {
			t.Errorf("reset points = %+v, want 11 buckets with 20/s in the fifth", s.Points)
		}
	}
	if len(tl.Markers) != 1 || tl.Markers[0].Kind != KindTargetUnhealthy || tl.Markers[0].Text != "node-b: Target.FailedHealthChecks" {
		t.Errorf("markers = %+v", tl.Markers)
	}
}

func TestFromNLB(t *testing.T) {
	tg := nlb.Target{Addr: netip.MustParseAddrPort("172.18.0.3:30080"), Name: "node-b"}
	got := FromNLB([]nlb.Event{
		{Time: at(1), Target: tg, From: nlb.StateHealthy, To: nlb.StateUnhealthy, Reason: nlb.ReasonFailedHealthChecks, Detail: "2 consecutive failures"},
		{Time: at(2), Target: tg, From: nlb.StateHealthy, To: nlb.StateHealthy, Reason: nlb.ReasonDeregistrationRequested},
		{Time: at(3), Target: tg, From: nlb.StateHealthy, To: nlb.StateDraining, Reason: nlb.ReasonDeregistrationInProgress},
	})
	want := []Event{
		{At: at(1), Kind: KindTargetUnhealthy, Subject: "node-b(172.18.0.3:30080)", Detail: "Target.FailedHealthChecks: 2 consecutive failures"},
		{At: at(2), Kind: "target-deregistering", Subject: "node-b(172.18.0.3:30080)", Detail: nlb.ReasonDeregistrationRequested},
		{At: at(3), Kind: KindTargetDraining, Subject: "node-b(172.18.0.3:30080)", Detail: nlb.ReasonDeregistrationInProgress},
	}
	if len(got) != len(want) {
		t.Fatalf("FromNLB = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLatency(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var r Result
	// 98 requests of 10 ms, one of 1.2 s, and a failure of 2 s that is
	// not a latency.
	for i := range 98 {
		s := t0.Add(time.Duration(i) * time.Millisecond)
		r.Requests = append(r.Requests, Request{Start: s, End: s.Add(10 * time.Millisecond), Outcome: OK})
	}
	r.Requests = append(r.Requests,
		Request{Start: t0.Add(time.Second), End: t0.Add(2200 * time.Millisecond), Outcome: OK},
		Request{Start: t0.Add(time.Second), End: t0.Add(3 * time.Second), Outcome: Timeout},
	)
	l := r.Latency(time.Second)
	if l.P50 != 10*time.Millisecond || l.Max != 1200*time.Millisecond || l.P99 != 1200*time.Millisecond {
		t.Errorf("p50 %v, p99 %v, max %v; want 10ms, 1.2s, 1.2s", l.P50, l.P99, l.Max)
	}
	if len(l.Slow) != 1 || !l.Slow[0].Start.Equal(t0.Add(time.Second)) {
		t.Errorf("slow requests %v, want the one of 1.2 s", l.Slow)
	}
	if got, want := l.String(), "p50 10ms, p99 1.2s, max 1.2s; 1 ok requests took ≥ 1s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if (&Result{}).Latency(time.Second).Max != 0 {
		t.Error("no request: want zero latencies")
	}
}
