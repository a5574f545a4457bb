package leakcheck

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab/wait"
)

func TestStillAcceptingNamesOpenListenersOnly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := l.Addr().String()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := closed.Addr().String()
	closed.Close()
	defer l.Close()
	got := StillAccepting(context.Background(), time.Second, gone, open)
	if len(got) != 1 || got[0] != open {
		t.Fatalf("StillAccepting = %v, want [%s]", got, open)
	}
}

func TestSettleWaitsForGoroutinesToStop(t *testing.T) {
	base := Take()
	stop := make(chan struct{})
	for i := 0; i < 5; i++ {
		go func() { <-stop }()
	}
	w := wait.Within{Timeout: 50 * time.Millisecond, Poll: time.Millisecond}
	if n, err := base.Settle(context.Background(), 1, w); err == nil || !strings.Contains(err.Error(), "goroutines") {
		t.Fatalf("Settle with 5 extra goroutines: %d, %v; want an error naming goroutines", n, err)
	}
	close(stop)
	w.Timeout = 5 * time.Second
	if n, err := base.Settle(context.Background(), 1, w); err != nil {
		t.Fatalf("Settle after they stopped: %d, %v", n, err)
	}
	if _, err := (Baseline{}).Settle(context.Background(), 1, w); err == nil {
		t.Fatal("Settle without a baseline succeeded")
	}
}

func TestStacksIsCut(t *testing.T) {
	if s := Stacks(100); len(s) > 100+len("\n...") || !strings.HasPrefix(s, "goroutine profile") {
		t.Fatalf("Stacks(100) = %q", s)
	}
}
