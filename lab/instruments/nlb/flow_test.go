package nlb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
)

func TestFlowHashIsStablePerFlowAndSpreads(t *testing.T) {
	dst := netip.MustParseAddrPort("127.0.0.1:8080")
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	first := flowHash(src, dst)
	for range 3 {
		if h := flowHash(src, dst); h != first {
			t.Fatalf("one flow hashed to %x and %x", first, h)
		}
	}
	counts := make([]int, 3)
	seen := map[uint64]bool{}
	for port := uint16(32768); port < 32768+3000; port++ {
		h := flowHash(netip.AddrPortFrom(src.Addr(), port), dst)
		seen[h] = true
		counts[pick(h, 3)]++
	}
	if len(seen) != 3000 {
		t.Errorf("3000 client ports gave %d distinct hashes", len(seen))
	}
	for i, c := range counts {
		if c < 850 || c > 1150 { // 1000 expected; ±15 % is > 10 standard deviations
			t.Errorf("target %d got %d of 3000 flows, want 850–1150 (all: %v)", i, c, counts)
		}
	}
	v6 := netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000")
	if flowHash(v6, dst) != flowHash(src, dst) {
		t.Error("an IPv4-mapped client address hashed differently from the IPv4 one")
	}
}

func TestFlowStaysOnItsTargetWhenTargetsChange(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	b := startBackend(t, "127.0.0.3", "b", nil)
	l := startLab(t, testConfig())
	l.makeHealthy(a.addr)
	toA := l.flowTo("a")
	l.makeHealthy(b.addr) // the set of healthy targets changes
	for i := range 10 {
		if got, err := toA.roundTrip(fmt.Sprint(i)); err != nil || got != "a" {
			t.Fatalf("round trip %d: answered by %q, %v; want a", i, got, err)
		}
	}
	got := l.landings(64)
	if got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("64 new flows landed %v, want both targets used", got)
	}
}

// countThenReply reads until the client half-closes, then writes the byte
// count and closes: it only answers if the EOF got through the proxy.
func countThenReply(_ string, c net.Conn) {
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		return
	}
	_, _ = fmt.Fprint(c, n)
}

func TestHalfCloseAndByteCounters(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", countThenReply)
	l := startLab(t, testConfig())
	l.makeHealthy(a.addr)

	c := l.dial()
	payload := bytes.Repeat([]byte("x"), 1<<20)
	if _, err := c.c.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := c.c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c.r)
	if err != nil {
		t.Fatalf("read reply after half-close: %v", err)
	}
	if want := strconv.Itoa(len(payload)); string(reply) != want {
		t.Fatalf("backend counted %q bytes, want %s", reply, want)
	}
	l.settle(0)
	s := l.stats(a.addr)
	if s.BytesToTarget != uint64(len(payload)) || s.BytesFromTarget != uint64(len(reply)) || s.TotalFlows != 1 {
		t.Fatalf("counters: to %d, from %d, flows %d; want %d, %d, 1", s.BytesToTarget, s.BytesFromTarget, s.TotalFlows, len(payload), len(reply))
	}
}

func TestNoTargetResetsNewFlows(t *testing.T) {
	noLeaks(t)
	l := startLab(t, testConfig())
	l.mustRejectNewFlow()
	if s := l.nlb.Snapshot(); s.Rejected != 1 || !s.FailOpen {
		t.Fatalf("snapshot %+v, want 1 rejected and fail-open with no target", s)
	}
}

func TestCloseEndsFlowsAndRefusesCalls(t *testing.T) {
	noLeaks(t)
	a := startBackend(t, "127.0.0.2", "a", nil)
	l := startLab(t, testConfig())
	l.makeHealthy(a.addr)
	toA := l.flowTo("a")
	if err := l.nlb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := toA.r.ReadByte(); err == nil {
		t.Fatal("a flow survived Close")
	}
	if err := l.nlb.Register(Target{Addr: a.addr}); err == nil {
		t.Fatal("Register after Close succeeded")
	}
	if _, err := net.Dial("tcp", l.nlb.Addr().String()); err == nil {
		t.Fatal("the listener accepts after Close")
	}
}

func TestContextCancelClosesTheNLB(t *testing.T) {
	noLeaks(t)
	cfg := testConfig()
	cfg.Clock = newFakeClock()
	ctx, cancel := context.WithCancel(t.Context())
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	eventually(t, "listener closed after cancel", func() bool {
		c, err := net.Dial("tcp", n.Addr().String())
		if err == nil {
			_ = c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}
