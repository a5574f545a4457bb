package nlb

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// waitFor bounds every poll in these tests; they poll facts, never sleep.
const waitFor = 10 * time.Second

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		}
		<-tk.C
	}
}

// noLeaks fails the test when goroutines started during it are still
// running once its cleanups ran. Call it first, so its cleanup runs last.
func noLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitFor)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				var b strings.Builder
				_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Errorf("%d goroutines left behind (had %d before):\n%s", runtime.NumGoroutine()-base, base, b.String())
				return
			}
			time.Sleep(time.Millisecond) // polling for goroutines to exit, not waiting for an event
		}
	})
}

// lab is an NLB on a fake clock with its backends.
type lab struct {
	t   *testing.T
	clk *fakeClock
	nlb *NLB
	cfg Config
}

// testConfig returns AWS's unscaled defaults: the fake clock makes the
// minutes free.
func testConfig() Config {
	return AWSDefaults()
}

func startLab(t *testing.T, cfg Config) *lab {
	t.Helper()
	clk := newFakeClock()
	cfg.Clock = clk
	n, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("start nlb: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close nlb: %v", err)
		}
		if t.Failed() {
			for _, e := range n.Events() {
				t.Logf("event: %s", e)
			}
		}
	})
	return &lab{t: t, clk: clk, nlb: n, cfg: cfg.Scaled()}
}

func (l *lab) stats(addr netip.AddrPort) TargetStats {
	l.t.Helper()
	s, ok := l.nlb.Snapshot().Target(addr)
	if !ok {
		l.t.Fatalf("target %s is not in the snapshot", addr)
	}
	return s
}

func (l *lab) register(addrs ...netip.AddrPort) {
	l.t.Helper()
	for _, a := range addrs {
		if err := l.nlb.Register(Target{Addr: a}); err != nil {
			l.t.Fatal(err)
		}
	}
}

// tick advances the clock by one health-check interval and waits until each
// of addrs completed one more health check.
func (l *lab) tick(addrs ...netip.AddrPort) {
	l.t.Helper()
	before := make([]uint64, len(addrs))
	for i, a := range addrs {
		before[i] = l.stats(a).HealthChecks
	}
	l.clk.Advance(l.cfg.HealthCheck.Interval)
	for i, a := range addrs {
		eventually(l.t, fmt.Sprintf("health check %d of %s", before[i]+1, a), func() bool {
			return l.stats(a).HealthChecks > before[i]
		})
	}
}

// makeHealthy registers addrs and drives them through the registration
// delay and the healthy threshold.
func (l *lab) makeHealthy(addrs ...netip.AddrPort) {
	l.t.Helper()
	l.register(addrs...)
	l.clk.Advance(l.cfg.RegistrationPropagation)
	for range l.cfg.HealthCheck.HealthyThreshold {
		l.tick(addrs...)
	}
	for _, a := range addrs {
		if s := l.stats(a); s.State != StateHealthy {
			l.t.Fatalf("target %s is %s (%s), want healthy", a, s.State, s.Reason)
		}
	}
}

// activeFlows sums the active flows of every target.
func (l *lab) activeFlows() int {
	n := 0
	for _, s := range l.nlb.Snapshot().Targets {
		n += s.ActiveFlows
	}
	return n
}

// settle waits until the NLB counts want active flows in all.
func (l *lab) settle(want int) {
	l.t.Helper()
	eventually(l.t, fmt.Sprintf("%d active flows", want), func() bool { return l.activeFlows() == want })
}

// mustRejectNewFlow checks that a new client connection is reset; on
// loopback the RST can beat the end of the connect.
func (l *lab) mustRejectNewFlow() {
	l.t.Helper()
	c, err := net.DialTimeout("tcp", l.nlb.Addr().String(), waitFor)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			l.t.Fatalf("dial nlb: %v, want success or %v", err, syscall.ECONNRESET)
		}
		return
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(waitFor))
	(&client{c: c.(*net.TCPConn), r: bufio.NewReader(c)}).mustBeReset(l.t)
}

// client is one client connection through the NLB.
type client struct {
	c *net.TCPConn
	r *bufio.Reader
}

func (l *lab) dial() *client {
	l.t.Helper()
	c, err := net.DialTimeout("tcp", l.nlb.Addr().String(), waitFor)
	if err != nil {
		l.t.Fatalf("dial nlb: %v", err)
	}
	l.t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(waitFor))
	return &client{c: c.(*net.TCPConn), r: bufio.NewReader(c)}
}

// roundTrip sends a line and returns the name of the backend that echoed it.
func (c *client) roundTrip(msg string) (string, error) {
	if _, err := fmt.Fprintf(c.c, "%s\n", msg); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	name, echoed, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	if !ok || echoed != msg {
		return "", fmt.Errorf("echo %q for %q", line, msg)
	}
	return name, nil
}

// mustReach checks the flow still works and goes to the backend named want.
func (c *client) mustReach(t *testing.T, want string) {
	t.Helper()
	got, err := c.roundTrip("ping")
	if err != nil {
		t.Fatalf("flow to %s: %v", want, err)
	}
	if got != want {
		t.Fatalf("flow answered by %s, want %s", got, want)
	}
}

// mustBeReset checks that the NLB reset the flow: a read returns ECONNRESET.
func (c *client) mustBeReset(t *testing.T) {
	t.Helper()
	_, err := c.r.ReadByte()
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read on the flow: %v, want %v", err, syscall.ECONNRESET)
	}
}

// flowTo opens flows until one lands on the backend named want (flows are
// hashed by client port) and closes the others; it fails after 64 tries.
func (l *lab) flowTo(want string) *client {
	l.t.Helper()
	for range 64 {
		c := l.dial()
		got, err := c.roundTrip("hello")
		if err != nil {
			l.t.Fatalf("round trip: %v", err)
		}
		if got == want {
			return c
		}
		_ = c.c.Close()
	}
	l.t.Fatalf("64 flows, none reached %s", want)
	return nil
}

// landings opens n flows, counts the backends that answered, and closes them.
func (l *lab) landings(n int) map[string]int {
	l.t.Helper()
	seen := map[string]int{}
	for range n {
		c := l.dial()
		got, err := c.roundTrip("hello")
		if err != nil {
			l.t.Fatalf("round trip: %v", err)
		}
		seen[got]++
		_ = c.c.Close()
	}
	return seen
}

// backend is a TCP server on one loopback IP that echoes lines prefixed
// with its name, or runs a custom handler.
type backend struct {
	name string
	addr netip.AddrPort
	ln   net.Listener
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func echo(name string, c net.Conn) {
	s := bufio.NewScanner(c)
	for s.Scan() {
		if _, err := fmt.Fprintf(c, "%s %s\n", name, s.Text()); err != nil {
			return
		}
	}
}

func startBackend(t testing.TB, ip, name string, handle func(name string, c net.Conn)) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	if handle == nil {
		handle = echo
	}
	b := &backend{name: name, addr: ln.Addr().(*net.TCPAddr).AddrPort(), ln: ln, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns[c] = struct{}{}
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer func() {
					b.mu.Lock()
					delete(b.conns, c)
					b.mu.Unlock()
					_ = c.Close()
				}()
				handle(name, c)
			}()
		}
	}()
	t.Cleanup(b.close)
	return b
}

// stopListening closes the listener: TCP health checks fail, open
// connections go on.
func (b *backend) stopListening() { _ = b.ln.Close() }

func (b *backend) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		_ = c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// healthz is an HTTP health endpoint on one IP, like kube-proxy's
// healthCheckNodePort server on one node.
type healthz struct {
	code  atomic.Int32
	paths sync.Map // path → struct{}
}

// startHealthz serves health endpoints on the same port of every ip, as
// every node serves the Service's healthCheckNodePort, and returns the port.
func startHealthz(t *testing.T, ips ...string) (uint16, []*healthz) {
	t.Helper()
	for range 20 {
		var lns []net.Listener
		var port string
		ok := true
		for _, ip := range ips {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, cmp.Or(port, "0")))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
			_, port, _ = net.SplitHostPort(ln.Addr().String())
		}
		if !ok {
			for _, ln := range lns {
				_ = ln.Close()
			}
			continue
		}
		hs := make([]*healthz, len(lns))
		for i, ln := range lns {
			h := &healthz{}
			h.code.Store(http.StatusOK)
			hs[i] = h
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h.paths.Store(r.URL.Path, struct{}{})
					w.WriteHeader(int(h.code.Load()))
				}),
				ReadHeaderTimeout: waitFor,
			}
			done := make(chan struct{})
			go func() { defer close(done); _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close(); <-done })
		}
		p := lns[0].Addr().(*net.TCPAddr).Port
		return uint16(p), hs
	}
	t.Fatalf("no port free on all of %v after 20 tries", ips)
	return 0, nil
}
