package redisnat

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen starts a loopback listener that reports the first line each
// connection sends.
func listen(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := io.ReadAtLeast(c, buf, 1)
				ch <- string(buf[:n])
			}()
		}
	}()
	return ln.Addr().String(), ch
}

func send(t *testing.T, d *Dialer, addr, msg string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(msg))
	return err
}

func receive(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case s := <-got:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived at the forwarded port")
		return ""
	}
}

func TestDialRewritesAnnouncedAddress(t *testing.T) {
	local, got := listen(t)
	d := &Dialer{}
	d.SetRoutes(map[string]string{"10.244.1.7:6379": local})
	if err := send(t, d, "10.244.1.7:6379", "PING"); err != nil {
		t.Fatal(err)
	}
	if s := receive(t, got); s != "PING" {
		t.Fatalf("forwarded port got %q, want PING", s)
	}
}

func TestUnknownAddressNamesItAndTheRoutes(t *testing.T) {
	d := &Dialer{}
	d.SetRoutes(map[string]string{"10.244.1.7:6379": "127.0.0.1:40001"})
	err := send(t, d, "10.244.2.9:6379", "PING")
	if err == nil || !strings.Contains(err.Error(), "no route for 10.244.2.9:6379") || !strings.Contains(err.Error(), "10.244.1.7:6379→127.0.0.1:40001") {
		t.Fatalf("err = %v, want one naming the address and the known routes", err)
	}
}

func TestLoopbackPassesThrough(t *testing.T) {
	local, got := listen(t)
	d := &Dialer{}
	if err := send(t, d, local, "HELLO"); err != nil {
		t.Fatal(err)
	}
	if s := receive(t, got); s != "HELLO" {
		t.Fatalf("got %q", s)
	}
}

// After a failover the cluster announces a new pod IP: the first dial to it
// refreshes the table (once, for concurrent callers) and succeeds.
func TestRefreshOnMiss(t *testing.T) {
	local, got := listen(t)
	var calls atomic.Int32
	d := &Dialer{Refresh: func(context.Context) (map[string]string, error) {
		calls.Add(1)
		return map[string]string{"10.244.3.3:6379": local}, nil
	}}
	if err := send(t, d, "10.244.3.3:6379", "SET"); err != nil {
		t.Fatal(err)
	}
	receive(t, got)
	if err := send(t, d, "10.244.3.3:6379", "GET"); err != nil {
		t.Fatal(err)
	}
	receive(t, got)
	if n := calls.Load(); n != 1 {
		t.Fatalf("Refresh called %d times, want 1 (the second dial has a route)", n)
	}
}

func TestRefreshErrorIsReported(t *testing.T) {
	d := &Dialer{Refresh: func(context.Context) (map[string]string, error) {
		return nil, errors.New("list pods: forbidden")
	}}
	err := send(t, d, "10.244.3.3:6379", "SET")
	if err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("err = %v, want the refresh error", err)
	}
}

func TestDialErrorNamesBothAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	d := &Dialer{}
	d.SetRoutes(map[string]string{"10.244.1.7:6379": closed})
	err = send(t, d, "10.244.1.7:6379", "PING")
	if err == nil || !strings.Contains(err.Error(), closed) || !strings.Contains(err.Error(), "10.244.1.7:6379") {
		t.Fatalf("err = %v, want one naming %s and the announced address", err, closed)
	}
}

// closedAddr is a loopback address nothing listens on (a forward that ended).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A failover: the forward behind a known route ended. The failed dial
// refreshes the table once and the retry reaches the new forward.
func TestDialErrorRefreshesAndRetries(t *testing.T) {
	local, got := listen(t)
	dead := closedAddr(t)
	var calls atomic.Int32
	d := &Dialer{Refresh: func(context.Context) (map[string]string, error) {
		calls.Add(1)
		return map[string]string{"10.244.1.7:6379": local}, nil
	}}
	d.SetRoutes(map[string]string{"10.244.1.7:6379": dead})
	if err := send(t, d, "10.244.1.7:6379", "SET"); err != nil {
		t.Fatalf("dial after the route's forward ended: %v, want the refreshed route to work", err)
	}
	if s := receive(t, got); s != "SET" {
		t.Fatalf("new forward got %q, want SET", s)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("Refresh called %d times, want 1", n)
	}
	if to, _ := d.Lookup("10.244.1.7:6379"); to != local {
		t.Fatalf("route after refresh = %s, want %s", to, local)
	}
}

// When the refreshed route fails too, the error still is a dial *net.OpError
// (go-redis retries on those) and names both attempts.
func TestDialErrorAfterRefreshIsADialError(t *testing.T) {
	dead1, dead2 := closedAddr(t), closedAddr(t)
	var calls atomic.Int32
	d := &Dialer{Refresh: func(context.Context) (map[string]string, error) {
		calls.Add(1)
		return map[string]string{"10.244.1.7:6379": dead2}, nil
	}}
	d.SetRoutes(map[string]string{"10.244.1.7:6379": dead1})
	err := send(t, d, "10.244.1.7:6379", "SET")
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("err = %v, want a dial *net.OpError in its chain", err)
	}
	for _, want := range []string{dead1, dead2, "10.244.1.7:6379", "after refreshing routes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("Refresh called %d times, want 1 (one refresh, one retry)", n)
	}
}

// The deleted master's address leaves the table: the retry reports "no
// route" (not a dial error, so go-redis does not retry it) and says what the
// first dial saw.
func TestRouteGoneAfterRefresh(t *testing.T) {
	dead := closedAddr(t)
	d := &Dialer{Refresh: func(context.Context) (map[string]string, error) {
		return map[string]string{"10.244.2.2:6379": "127.0.0.1:40002"}, nil
	}}
	d.SetRoutes(map[string]string{"10.244.1.7:6379": dead})
	err := send(t, d, "10.244.1.7:6379", "SET")
	var op *net.OpError
	if err == nil || errors.As(err, &op) {
		t.Fatalf("err = %v, want a no-route error without a *net.OpError", err)
	}
	for _, want := range []string{"no route for 10.244.1.7:6379", "10.244.2.2:6379→127.0.0.1:40002", dead} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
}

// A client retrying a dead address many times a second refreshes at most
// once per MinRefreshInterval; concurrent dials share one refresh.
func TestRefreshIsRateLimited(t *testing.T) {
	dead := closedAddr(t)
	var calls atomic.Int32
	d := &Dialer{MinRefreshInterval: time.Hour, Refresh: func(context.Context) (map[string]string, error) {
		calls.Add(1)
		return map[string]string{"10.244.1.7:6379": dead}, nil
	}}
	d.SetRoutes(map[string]string{"10.244.1.7:6379": dead})
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() { errs <- send(t, d, "10.244.1.7:6379", "SET") }()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err == nil {
			t.Fatal("a dial to a dead route succeeded")
		}
	}
	if err := send(t, d, "10.244.1.7:6379", "SET"); err == nil {
		t.Fatal("a dial to a dead route succeeded")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("Refresh called %d times for 9 failed dials within MinRefreshInterval, want 1", n)
	}
}

// A loopback address is not a route the table owns: its dial error is
// returned as is, without a refresh.
func TestLoopbackDialErrorDoesNotRefresh(t *testing.T) {
	dead := closedAddr(t)
	var calls atomic.Int32
	d := &Dialer{Refresh: func(context.Context) (map[string]string, error) {
		calls.Add(1)
		return nil, nil
	}}
	if err := send(t, d, dead, "PING"); err == nil {
		t.Fatal("dial to a closed loopback port succeeded")
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("Refresh called %d times, want 0", n)
	}
}
