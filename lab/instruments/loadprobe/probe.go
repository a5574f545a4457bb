package loadprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxBody bounds how much of a response body is read; a longer body ends
// the connection instead of its reuse.
const maxBody = 1 << 20

// Stop says why a probe stopped.
type Stop string

// Stop reasons.
const (
	StopMaxRequests Stop = "max-requests"
	StopDuration    Stop = "duration"
	StopCanceled    Stop = "canceled"
)

// Run sends the load of opts and records every request. It returns an
// error without sending anything when opts break a rule (see Validate).
// When ctx is done first it returns the requests so far and ctx's error.
func Run(ctx context.Context, opts Options) (*Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	u, _ := target(o.URL, o.Allow) // checked by withDefaults
	p := &probe{o: o, url: u.String(), sem: make(chan struct{}, o.Workers)}
	p.clients[0] = p.client(false)
	p.clients[1] = p.client(true)
	defer func() {
		for _, c := range p.clients {
			c.CloseIdleConnections()
		}
	}()
	o.Logger.Info("load probe start", "url", p.url, "host", o.Host, "rate", o.Rate,
		"duration", o.Duration, "maxRequests", o.MaxRequests, "keepAlive", o.KeepAliveFraction)

	stop := p.pace(ctx)
	p.wg.Wait()

	r := &Result{URL: p.url, Start: p.start, End: time.Now(), Stop: stop, Skipped: p.skipped,
		Window: o.Window, Requests: p.reqs, Counts: map[Outcome]int{}}
	slices.SortStableFunc(r.Requests, func(a, b Request) int { return a.Start.Compare(b.Start) })
	for _, q := range r.Requests {
		r.Counts[q.Outcome]++
	}
	o.Logger.Info("load probe done", "summary", r.Summary())
	if stop == StopCanceled {
		return r, fmt.Errorf("load probe %s: stopped after %d requests: %w", p.url, len(r.Requests), ctx.Err())
	}
	return r, nil
}

// probe is one Run's state.
type probe struct {
	o       Options
	url     string
	clients [2]*http.Client // new connection, keep-alive
	sem     chan struct{}
	wg      sync.WaitGroup
	start   time.Time
	sent    int
	skipped int

	mu   sync.Mutex
	reqs []Request
}

// client returns a client for one connection mode: no proxy, no redirects,
// dials checked against the network rule.
//
// New connections are used as curl uses them: the request does not ask
// the server to close (no "Connection: close"), and the client closes the
// connection once it has read the response (a negative MaxIdleConnsPerHost
// makes the Transport close it instead of pooling it). So the client
// closes first and holds TIME_WAIT, as a real client does, instead of
// the server: a server that closes first keeps one TIME_WAIT per request,
// and a load balancer that opens hundreds of connections a second from
// one address reuses those 4-tuples within seconds (Linux's port
// allocator wraps after a few thousand connections to one destination).
func (p *probe) client(keepAlive bool) *http.Client {
	d := &net.Dialer{Timeout: p.o.Timeout}
	idle := p.o.Workers
	if !keepAlive {
		idle = -1
	}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         guardDial(p.o.Allow, d.DialContext),
			DisableCompression:  true,
			MaxIdleConns:        p.o.Workers,
			MaxIdleConnsPerHost: idle,
			IdleConnTimeout:     idleConnTimeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// pace starts requests at o.Rate until a bound or ctx stops it. Each tick
// starts the slots due by then, so a late tick catches up, and a slot that
// finds every worker busy is skipped.
func (p *probe) pace(ctx context.Context) Stop {
	interval := max(time.Second/time.Duration(p.o.Rate), minPaceInterval)
	tk := time.NewTicker(interval)
	defer tk.Stop()
	p.start = time.Now()
	deadline := time.NewTimer(p.o.Duration)
	defer deadline.Stop()
	slots := 0
	for {
		elapsed := time.Since(p.start)
		due := int(elapsed.Seconds()*float64(p.o.Rate)) + 1
		for ; slots < due && p.sent < p.o.MaxRequests && elapsed < p.o.Duration; slots++ {
			select {
			case p.sem <- struct{}{}:
				i := p.sent
				p.sent++
				p.wg.Go(func() {
					defer func() { <-p.sem }()
					p.record(p.do(ctx, i))
				})
			default:
				p.skipped++
			}
		}
		if p.sent >= p.o.MaxRequests {
			return StopMaxRequests
		}
		select {
		case <-ctx.Done():
			return StopCanceled
		case <-deadline.C:
			return StopDuration
		case <-tk.C:
		}
	}
}

// keepAlive reports whether request i goes on a keep-alive connection,
// spreading the fraction evenly over the sequence.
func keepAlive(i int, fraction float64) bool {
	return int(float64(i+1)*fraction) > int(float64(i)*fraction)
}

// do sends request i. In-flight requests outlive ctx's cancellation by at
// most Timeout, so a stopped probe does not record failures it caused.
func (p *probe) do(ctx context.Context, i int) Request {
	ka := keepAlive(i, p.o.KeepAliveFraction)
	q := Request{Conn: ConnNew}
	if ka {
		q.Conn = ConnKeepAlive
	}
	var reused, attempts atomic.Int32
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		attempts.Add(1)
		if info.Reused {
			reused.Store(1)
		}
	}}
	rctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.WithoutCancel(ctx), trace), p.o.Timeout)
	defer cancel()
	q.Start = time.Now()
	status, err := p.send(rctx, p.clients[btoi(ka)])
	q.Reused = reused.Load() == 1
	if ka && q.Reused && idleClosed(status, err) {
		// The server closed the reused connection (FIN) before any byte of
		// a response: resend once on a new connection, as Go's Transport
		// and browsers do for a GET (RFC 9112 §9.3.1).
		q.Resent, q.FirstErr = true, err.Error()
		rctx2, cancel2 := context.WithTimeout(httptrace.WithClientTrace(context.WithoutCancel(ctx), trace), p.o.Timeout)
		defer cancel2()
		status, err = p.send(rctx2, p.clients[0])
	}
	q.End = time.Now()
	q.Status = status
	q.Attempts = int(attempts.Load())
	q.Outcome = Classify(q.Status, err)
	if err != nil {
		q.Err = err.Error()
	}
	return q
}

// idleClosed reports whether a request on a reused connection failed
// because the server had closed it in an orderly way (EOF, or Go's "server
// closed idle connection") before any response byte: the request was not
// processed. A reset (RST), a timeout or a refused connect is not.
func idleClosed(status int, err error) bool {
	if err == nil || status != 0 {
		return false
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return false
	}
	return errors.Is(err, io.EOF) || strings.Contains(err.Error(), "server closed idle connection")
}

// send makes one attempt of the probe's GET with client c and reads the
// body; it returns the status (0 without a response) and the error.
func (p *probe) send(ctx context.Context, c *http.Client) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil { // not expected: the URL was parsed already
		return 0, err
	}
	// A body that is not http.NoBody and has no GetBody makes the request
	// non-replayable, so the Transport never retries it on a fresh
	// connection; the empty body is probed away and not sent.
	req.Body = io.NopCloser(strings.NewReader(""))
	req.Header.Set("User-Agent", "nodelab-loadprobe")
	if p.o.Host != "" {
		req.Host = p.o.Host
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	return resp.StatusCode, err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *probe) record(q Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, q)
}
