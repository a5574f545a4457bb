package loadprobe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// run probes srv's URL with short bounds and fails the test on error.
func run(t *testing.T, o Options) *Result {
	t.Helper()
	r, err := Run(t.Context(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Log(r.Summary())
	return r
}

// onlyOutcomes fails unless every request's outcome is one of want.
func onlyOutcomes(t *testing.T, r *Result, want ...Outcome) {
	t.Helper()
	for _, q := range r.Requests {
		ok := false
		for _, w := range want {
			ok = ok || q.Outcome == w
		}
		if !ok {
			t.Errorf("request %+v: outcome %s, want one of %v", q, q.Outcome, want)
		}
	}
}

func TestRunAllOK(t *testing.T) {
	var hosts sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host, true)
		if r.ContentLength != 0 || len(r.TransferEncoding) != 0 || r.Header.Get("Content-Length") != "" {
			t.Errorf("GET with a body: length %d, transfer encoding %v", r.ContentLength, r.TransferEncoding)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	r := run(t, Options{URL: srv.URL, Host: "echo.lab", Rate: 200, Duration: time.Second, MaxRequests: 40})
	if len(r.Requests) != 40 || r.Counts[OK] != 40 || r.Failed() != 0 || r.Stop != StopMaxRequests {
		t.Fatalf("got %s, want 40 ok stopped by max-requests", r.Summary())
	}
	modes := map[string]int{}
	reused := 0
	for _, q := range r.Requests {
		modes[q.Conn]++
		if q.Reused {
			reused++
			if q.Conn != ConnKeepAlive {
				t.Errorf("request on a reused connection in mode %s", q.Conn)
			}
		}
		if q.Status != http.StatusOK || q.End.Before(q.Start) {
			t.Errorf("request %+v", q)
		}
	}
	if modes[ConnNew] != 20 || modes[ConnKeepAlive] != 20 {
		t.Errorf("modes = %v, want 20 each", modes)
	}
	if reused == 0 {
		t.Error("no keep-alive request reused a connection")
	}
	if _, ok := hosts.Load("echo.lab"); !ok {
		t.Error("the Host header did not reach the server")
	}
	// 40 requests at 200/s take about 0.2 s.
	if d := r.End.Sub(r.Start); d < 150*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("run took %v, want about 200ms at 200 req/s", d)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()

	begin := time.Now()
	r := run(t, Options{URL: srv.URL, Rate: 100, Duration: 300 * time.Millisecond, MaxRequests: 1000})
	if r.Stop != StopDuration {
		t.Errorf("stop = %s, want duration", r.Stop)
	}
	// 100/s for 0.3 s: 30 slots, the first at 0.
	if n := len(r.Requests); n < 20 || n > 31 {
		t.Errorf("%d requests, want about 30", n)
	}
	for _, q := range r.Requests {
		if q.Start.Sub(r.Start) >= 300*time.Millisecond {
			t.Errorf("request started %v after the start, past Duration", q.Start.Sub(r.Start))
		}
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("Run took %v", d)
	}
}

func TestRunCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	begin := time.Now()
	r, err := Run(ctx, Options{URL: srv.URL, Rate: 100, Duration: 5 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) || r == nil || r.Stop != StopCanceled {
		t.Fatalf("Run = %v, %v; want a partial result and the context's error", r, err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Errorf("Run took %v after a 150ms context", d)
	}
	if len(r.Requests) == 0 || r.Failed() != 0 {
		t.Errorf("got %s, want only ok requests: stopping must not fail requests", r.Summary())
	}
}

// resetConn ends the request's connection with a RST.
func resetConn(t *testing.T, w http.ResponseWriter) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

func TestRunReset(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%3 == 0 {
			resetConn(t, w)
		}
	}))
	defer srv.Close()

	r := run(t, Options{URL: srv.URL, Rate: 200, Duration: time.Second, MaxRequests: 30, Workers: 1})
	if r.Counts[Reset] == 0 || r.Counts[OK] == 0 {
		t.Errorf("got %s, want ok and reset", r.Summary())
	}
	onlyOutcomes(t, r, OK, Reset)
}

// TestRunResetOnReusedConnNotRetried resets every second request on a
// connection: Go's Transport would resend those on a new connection and
// report success.
func TestRunResetOnReusedConnNotRetried(t *testing.T) {
	var mu sync.Mutex
	perConn := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		perConn[r.RemoteAddr]++
		n := perConn[r.RemoteAddr]
		mu.Unlock()
		if n == 2 {
			resetConn(t, w)
		}
	}))
	defer srv.Close()

	r := run(t, Options{URL: srv.URL, Rate: 100, Duration: time.Second, MaxRequests: 10, KeepAliveFraction: 1, Workers: 1})
	if r.Counts[Reset] < 4 || r.Counts[OK] < 4 {
		t.Errorf("got %s, want every second request reset", r.Summary())
	}
	for _, q := range r.Failures() {
		if !q.Reused || q.Attempts != 1 || q.Outcome != Reset || q.Resent {
			t.Errorf("failure %+v, want a reset on a reused connection, one attempt", q)
		}
	}
}

func TestRunRefusedAfterListenerCloses(t *testing.T) {
	var n atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		if n.Add(1) == 10 {
			go srv.Close()
		}
	}))
	defer srv.Close()

	r := run(t, Options{URL: srv.URL, Rate: 200, Duration: time.Second, MaxRequests: 40, KeepAliveFraction: -1})
	if r.Counts[OK] < 9 || r.Counts[Refused] < 20 {
		t.Errorf("got %s, want about 10 ok then refused", r.Summary())
	}
	onlyOutcomes(t, r, OK, Refused, Reset)
	for _, q := range r.Requests {
		if q.Conn != ConnNew {
			t.Errorf("request in mode %s with keep-alive fraction -1", q.Conn)
		}
	}
}

func TestRunTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer srv.Close()

	r := run(t, Options{URL: srv.URL, Rate: 50, Duration: time.Second, MaxRequests: 5, Timeout: 100 * time.Millisecond})
	if r.Counts[Timeout] != 5 {
		t.Errorf("got %s, want 5 timeouts", r.Summary())
	}
	for _, q := range r.Requests {
		if d := q.End.Sub(q.Start); d < 90*time.Millisecond || d > 600*time.Millisecond {
			t.Errorf("timed-out request took %v, want about the 100ms timeout", d)
		}
	}
}

func TestRunHTTP5xx(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	r := run(t, Options{URL: srv.URL, Rate: 200, Duration: time.Second, MaxRequests: 10})
	if r.Counts[HTTP5xx] != 10 || len(r.Failures()) != 10 {
		t.Errorf("got %s, want 10 http5xx", r.Summary())
	}
	for _, q := range r.Requests {
		if q.Status != http.StatusServiceUnavailable || q.Err != "" {
			t.Errorf("request %+v, want status 503 and no error", q)
		}
	}
}

func TestRunSkipsWhenWorkersBusy(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)

	r := run(t, Options{URL: srv.URL, Rate: 100, Duration: 200 * time.Millisecond, Workers: 2, Timeout: 300 * time.Millisecond})
	if len(r.Requests) != 2 || r.Skipped < 10 || r.Counts[Timeout] != 2 {
		t.Errorf("got %s, want 2 requests (timed out) and the other slots skipped", r.Summary())
	}
}

// TestRunResendsWhenServerClosedReusedConn closes every connection in an
// orderly way (FIN, no response) at its second request, as a server's
// graceful shutdown closes idle keep-alive connections: each such request
// is resent once on a new connection and ends OK, marked Resent.
func TestRunResendsWhenServerClosedReusedConn(t *testing.T) {
	var mu sync.Mutex
	perConn := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		perConn[r.RemoteAddr]++
		n := perConn[r.RemoteAddr]
		mu.Unlock()
		if n == 2 {
			c, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			c.Close() // FIN, no response
		}
	}))
	defer srv.Close()

	r := run(t, Options{URL: srv.URL, Rate: 100, Duration: time.Second, MaxRequests: 10, KeepAliveFraction: 1, Workers: 1})
	onlyOutcomes(t, r, OK)
	if r.Resent() == 0 {
		t.Fatalf("got %s, want requests resent after the orderly close", r.Summary())
	}
	for _, q := range r.Requests {
		if q.Resent && (!q.Reused || q.FirstErr == "") {
			t.Errorf("resent request %+v: want a reused connection and the first error", q)
		}
	}
}

// New-connection requests behave like curl: one TCP connection each, no
// "Connection: close", and the client closes the connection after the
// response, so TIME_WAIT stays with the client and not the server.
func TestNewConnectionsAreClosedByTheClient(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]int{}
	closedByPeer := make(chan string, 64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Close {
			t.Errorf("request from %s asks the server to close (Connection: close)", r.RemoteAddr)
		}
		mu.Lock()
		conns[r.RemoteAddr]++
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	// Idle connections end when the client closes them; the server never
	// closes first within the test (its idle timeout is far longer).
	srv.Config.IdleTimeout = time.Minute
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closedByPeer <- c.RemoteAddr().String()
		}
	}
	srv.Start()
	defer srv.Close()

	r := run(t, Options{URL: srv.URL, Rate: 200, Duration: time.Second, MaxRequests: 20, KeepAliveFraction: -1})
	if r.Counts[OK] != 20 {
		t.Fatalf("got %s, want 20 ok", r.Summary())
	}
	mu.Lock()
	if len(conns) != 20 {
		t.Errorf("20 new-connection requests came on %d connections, want 20", len(conns))
	}
	mu.Unlock()
	// Every connection was closed, by the client, with the server still
	// willing to keep it.
	deadline := time.After(5 * time.Second)
	for closed := 0; closed < 20; closed++ {
		select {
		case <-closedByPeer:
		case <-deadline:
			t.Fatalf("only %d of 20 connections closed within 5s: the client keeps them open", closed)
		}
	}
}
