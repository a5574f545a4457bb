// Package leakcheck checks that a scenario left nothing running in this
// process: goroutines back near the count taken before it started anything,
// and local addresses it listened on (port-forwards, emulated load
// balancers) no longer accepting connections.
//
//	base := leakcheck.Take() // before the first forward or listener
//	...
//	if open := leakcheck.StillAccepting(ctx, dialTimeout, addrs...); len(open) > 0 { ... }
//	now, err := base.Settle(ctx, allowance, wait.Within{Timeout: ..., Poll: ...})
//
// A few goroutines outlive any scenario (idle HTTP connections of the API
// client and its transports), hence the allowance; the caller states it.
// Messages are the caller's: the package returns what it saw.
package leakcheck

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/wait"
)

// Baseline is the process's goroutine count before a scenario started
// anything; the zero Baseline was never taken.
type Baseline struct {
	// Goroutines is runtime.NumGoroutine() when Take ran.
	Goroutines int
}

// Take records the baseline.
func Take() Baseline { return Baseline{Goroutines: runtime.NumGoroutine()} }

// Taken reports whether Take ran (a process always has a goroutine).
func (b Baseline) Taken() bool { return b.Goroutines > 0 }

// Settle waits until the goroutine count is at most allowance above the
// baseline and returns the last count seen. w.Timeout and w.Poll bound the
// wait (w.What defaults to the goroutine count wanted). On failure the
// error names the timeout and the count; Stacks says what runs.
func (b Baseline) Settle(ctx context.Context, allowance int, w wait.Within) (int, error) {
	if !b.Taken() {
		return 0, fmt.Errorf("no goroutine baseline: take it with leakcheck.Take before the scenario starts anything")
	}
	limit := b.Goroutines + allowance
	if w.What == "" {
		w.What = fmt.Sprintf("goroutines back to at most %d (%d before, allowance %d)", limit, b.Goroutines, allowance)
	}
	now := runtime.NumGoroutine()
	err := wait.Until(ctx, w, func(g gomega.Gomega) {
		now = runtime.NumGoroutine()
		g.Expect(now).To(gomega.BeNumerically("<=", limit), "goroutines now")
	})
	return now, err
}

// Stacks is the process's goroutines grouped by stack (pprof debug=1),
// cut after max bytes: what did not stop.
func Stacks(max int) string {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	s := b.String()
	if len(s) > max {
		s = s[:max] + "\n..."
	}
	return s
}

// StillAccepting dials every TCP address (each for at most dialTimeout, in
// order) and returns those that accept a connection: listeners that should
// have been closed.
func StillAccepting(ctx context.Context, dialTimeout time.Duration, addrs ...string) []string {
	d := net.Dialer{Timeout: dialTimeout}
	var open []string
	for _, a := range addrs {
		if c, err := d.DialContext(ctx, "tcp", a); err == nil {
			_ = c.Close()
			open = append(open, a)
		}
	}
	return open
}
