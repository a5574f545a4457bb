package nlb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchEnv turns on TestCompareWithHAProxy.
const benchEnv = "NODELAB_NLB_BENCH"

// Bench sizes: every loop is bounded in count, and every connection has a
// deadline of benchDeadline.
const (
	benchRounds      = 9        // uploads per subject
	benchStreams     = 4        // parallel connections of one upload
	benchStreamBytes = 64 << 20 // per connection
	benchConnects    = 5000     // new connection per request, per subject
	benchPingPongs   = 20000    // on one open connection, per subject
	benchMsg         = 64       // request and reply size
	benchDeadline    = 60 * time.Second
)

// TestCompareWithHAProxy measures the NLB against HAProxy in TCP mode, side
// by side in one run, on loopback: both forward to the same backend, both
// in a process of their own, driven by the same client. It reports
// throughput and added latency as ratios to HAProxy and fails when the NLB
// falls below 0.8× HAProxy's throughput or above 1.2× its p99 latency.
func TestCompareWithHAProxy(t *testing.T) {
	if os.Getenv(benchEnv) != "1" {
		t.Skipf("set %s=1 to compare with HAProxy (about a minute, loopback only); %s is %q", benchEnv, benchEnv, os.Getenv(benchEnv))
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skipf("requires haproxy in PATH (%v): apt-get install -y haproxy", err)
	}
	noLeaks(t)
	be := startBenchBackend(t)
	subjects := []benchSubject{
		{name: "direct", addr: be},
		{name: "haproxy", addr: startHAProxy(t, haproxy, be)},
		{name: "nlb", addr: startNLBChild(t, be)},
	}
	results, err := measure(subjects)
	if err != nil {
		t.Fatal(err)
	}
	report(t, subjects, results)
}

// benchBlocks splits each latency series into consecutive blocks; a ratio
// is the median of the blocks' ratios, so that a burst of load from the
// rest of the host skews one block, not the verdict.
const benchBlocks = 10

// report logs the table and the ratios and checks the targets: throughput
// ≥ 0.8× HAProxy's, p99 latency ≤ 1.2× HAProxy's.
func report(t *testing.T, subjects []benchSubject, results map[string]*benchResult) {
	direct, hap, nlb := results["direct"], results["haproxy"], results["nlb"]
	t.Logf("%-8s %10s %13s %13s %13s %13s", "", "MB/s", "connect p50", "connect p99", "rtt p50", "rtt p99")
	for _, s := range subjects {
		r := results[s.name]
		t.Logf("%-8s %10.0f %13v %13v %13v %13v", s.name, median(r.rates())/1e6,
			pct(r.connect, 50), pct(r.connect, 99), pct(r.rtt, 50), pct(r.rtt, 99))
	}
	tput := median(ratios(nlb.rates(), hap.rates()))
	t.Logf("nlb/haproxy throughput %.2f (median of %d interleaved rounds; target ≥ 0.80)", tput, len(nlb.elapsed))
	if tput < 0.8 {
		t.Errorf("throughput is %.2f× HAProxy's, want ≥ 0.8×", tput)
	}
	for _, m := range []struct {
		name           string
		nl, hp, direct []time.Duration
	}{
		{"connect+request", nlb.connect, hap.connect, direct.connect},
		{"request on open flow", nlb.rtt, hap.rtt, direct.rtt},
	} {
		var p50, p99, add50, add99 []float64
		for b := range benchBlocks {
			nl, hp, d := block(m.nl, b), block(m.hp, b), block(m.direct, b)
			p50 = append(p50, float64(pct(nl, 50))/float64(pct(hp, 50)))
			p99 = append(p99, float64(pct(nl, 99))/float64(pct(hp, 99)))
			add50 = append(add50, float64(pct(nl, 50)-pct(d, 50))/float64(pct(hp, 50)-pct(d, 50)))
			add99 = append(add99, float64(pct(nl, 99)-pct(d, 99))/float64(pct(hp, 99)-pct(d, 99)))
		}
		t.Logf("nlb/haproxy %s: p50 %.2f, p99 %.2f (target ≤ 1.20); added latency p50 %.2f, p99 %.2f",
			m.name, median(p50), median(p99), median(add50), median(add99))
		if r := median(p99); r > 1.2 {
			t.Errorf("%s: p99 is %.2f× HAProxy's, want ≤ 1.2×", m.name, r)
		}
	}
}

func block(d []time.Duration, b int) []time.Duration {
	n := len(d) / benchBlocks
	return d[b*n : (b+1)*n]
}

func ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

type benchSubject struct {
	name string
	addr string
}

type benchResult struct {
	elapsed []time.Duration // per round, for the uploads
	connect []time.Duration // dial, request, reply, close
	rtt     []time.Duration // request and reply on an open connection
}

// rates returns each round's upload rate in bytes per second.
func (r *benchResult) rates() []float64 {
	out := make([]float64, len(r.elapsed))
	for i, e := range r.elapsed {
		out[i] = float64(benchStreams*benchStreamBytes) / e.Seconds()
	}
	return out
}

// measure interleaves the subjects sample by sample (rotating who goes
// first), so that a busy host slows all of them alike and the ratios hold.
func measure(subjects []benchSubject) (map[string]*benchResult, error) {
	results := map[string]*benchResult{}
	for _, s := range subjects {
		results[s.name] = &benchResult{}
	}
	rotated := func(i int, f func(benchSubject) error) error {
		for j := range subjects {
			s := subjects[(i+j)%len(subjects)]
			if err := f(s); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
		return nil
	}
	for i := range benchRounds {
		if err := rotated(i, func(s benchSubject) error { return results[s.name].upload(s.addr) }); err != nil {
			return nil, fmt.Errorf("upload: %w", err)
		}
	}
	for i := range benchConnects {
		err := rotated(i, func(s benchSubject) error {
			start := time.Now()
			if err := connectOnce(s.addr); err != nil {
				return err
			}
			r := results[s.name]
			r.connect = append(r.connect, time.Since(start))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("connect and request: %w", err)
		}
	}
	conns := map[string]net.Conn{}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for _, s := range subjects {
		c, err := benchDial(s.addr, 'E')
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		conns[s.name] = c
	}
	buf := make([]byte, benchMsg)
	for i := range benchPingPongs {
		err := rotated(i, func(s benchSubject) error {
			c := conns[s.name]
			start := time.Now()
			if _, err := c.Write(buf); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				return err
			}
			r := results[s.name]
			r.rtt = append(r.rtt, time.Since(start))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("request on an open flow: %w", err)
		}
	}
	return results, nil
}

// upload sends benchStreamBytes on each of benchStreams connections to the
// sink and waits for its byte count.
func (r *benchResult) upload(addr string) error {
	var wg sync.WaitGroup
	errs := make([]error, benchStreams)
	start := time.Now()
	for i := range benchStreams {
		wg.Go(func() {
			c, err := benchDial(addr, 'S')
			if err != nil {
				errs[i] = err
				return
			}
			defer func() { _ = c.Close() }()
			buf := make([]byte, 256<<10)
			for sent := 0; sent < benchStreamBytes; sent += len(buf) {
				if _, err := c.Write(buf); err != nil {
					errs[i] = err
					return
				}
			}
			if err := c.(*net.TCPConn).CloseWrite(); err != nil {
				errs[i] = err
				return
			}
			got, err := io.ReadAll(c)
			if err == nil && string(got) != fmt.Sprint(benchStreamBytes) {
				err = fmt.Errorf("sink counted %q bytes, want %d", got, benchStreamBytes)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	r.elapsed = append(r.elapsed, time.Since(start))
	return errors.Join(errs...)
}

func connectOnce(addr string) error {
	c, err := benchDial(addr, 'E')
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	buf := make([]byte, benchMsg)
	if _, err := c.Write(buf); err != nil {
		return err
	}
	_, err = io.ReadFull(c, buf)
	return err
}

// benchDial connects and sends the mode byte: 'S' sink, 'E' echo.
func benchDial(addr string, mode byte) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(benchDeadline))
	if _, err := c.Write([]byte{mode}); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Sorted(slices.Values(d))
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

// startBenchBackend serves the sink ('S': count bytes until EOF, reply the
// count) and echo ('E') modes on 127.0.0.1.
func startBenchBackend(t *testing.T) string { return startBenchBackendB(t) }

func startBenchBackendB(t testing.TB) string {
	b := startBackend(t, "127.0.0.1", "bench", func(_ string, c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(benchDeadline))
		mode := make([]byte, 1)
		if _, err := io.ReadFull(c, mode); err != nil {
			return
		}
		switch mode[0] {
		case 'S':
			// A large buffer: io.Discard's 8 KiB reads would make the sink
			// the bottleneck.
			buf := make([]byte, 256<<10)
			var n int64
			for {
				m, err := c.Read(buf)
				n += int64(m)
				if errors.Is(err, io.EOF) {
					_, _ = fmt.Fprint(c, n)
					return
				}
				if err != nil {
					return
				}
			}
		case 'E':
			buf := make([]byte, 4<<10) // small: many short connections, little garbage
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}
	})
	return b.addr.String()
}

// startHAProxy runs haproxy in TCP mode on a free loopback port in front of
// backend, with its defaults otherwise (threads = CPUs, no splice), and
// kills it by PID when the test ends.
func startHAProxy(t *testing.T, haproxy, backend string) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	conf := fmt.Sprintf(`global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend bench
    bind %s
    default_backend bench
backend bench
    server b1 %s
`, addr, backend)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxy, "-db", "-f", cfg)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // our own haproxy, by PID
		<-exited
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	waitListening(t, "haproxy", addr, exited)
	t.Logf("haproxy pid %d on %s", cmd.Process.Pid, addr)
	return addr
}

// startNLBChild runs this test binary as an NLB process (see TestMain) in
// front of backend and stops it when the test ends.
func startNLBChild(t *testing.T, backend string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), benchChildEnv+"="+backend)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nlb child: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close() // asks the child to close its NLB and exit
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("nlb child: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("nlb child %d did not exit within 30 s of stdin closing: killed", cmd.Process.Pid)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "LISTEN ")
	if err != nil || !ok {
		t.Fatalf("nlb child said %q, %v; want LISTEN <addr>", line, err)
	}
	t.Logf("nlb child pid %d on %s", cmd.Process.Pid, addr)
	return addr
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func waitListening(t *testing.T, name, addr string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited before listening on %s", name, addr)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after %v: %v", name, addr, waitFor, err)
		}
		time.Sleep(5 * time.Millisecond) // polling for the listener
	}
}
