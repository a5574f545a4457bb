// Package wait is nodelab's one wait idiom: gomega's Eventually and
// Consistently with getters (and StopTrying for a state that cannot come
// right), returning an error instead of failing a test, so the same code
// runs under ginkgo and in the `nodelab` CLI.
//
//	err := wait.Until(ctx, wait.Within{What: "two Ready probes", Timeout: t.PodStart, Poll: t.Poll},
//		func(g gomega.Gomega) { g.Expect(readyProbes(ctx)).To(gomega.HaveLen(2)) })
//
// Every wait in lab/ and scenarios/ goes through Check or Until; timeouts come
// from a timeout table (scenarios.Timeouts, a scenario's own table), never
// from a literal at the call site.
package wait

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onsi/gomega"
)

// checkFailure carries a gomega failure message out of Check.
type checkFailure struct{ message string }

// Check runs assertions written with gomega (Expect, and Eventually or
// Consistently with their own timeouts) and returns the first failure as an
// error, so steps read like specs yet return what they observed.
func Check(f func(g gomega.Gomega)) (err error) {
	g := gomega.NewGomega(func(message string, _ ...int) { panic(checkFailure{message}) })
	defer func() {
		if p := recover(); p != nil {
			cf, ok := p.(checkFailure)
			if !ok {
				panic(p)
			}
			err = errors.New(cf.message)
		}
	}()
	f(g)
	return nil
}

// Within says what a wait is for and how long it may take.
type Within struct {
	// What is the state waited for, as the error message names it.
	What string
	// Timeout bounds the wait; Poll is the interval between attempts.
	Timeout, Poll time.Duration
}

// Until polls f until its assertions pass, the timeout passes or ctx ends.
// f may call gomega.StopTrying(...).Now() to give up early. The error names
// w.What, the timeout and the last failure seen.
func Until(ctx context.Context, w Within, f func(g gomega.Gomega)) error {
	if w.Timeout <= 0 || w.Poll <= 0 {
		return fmt.Errorf("wait for %s: timeout %s and poll %s must be positive", w.What, w.Timeout, w.Poll)
	}
	return withContext(ctx, Check(func(g gomega.Gomega) {
		g.Eventually(ctx, f).WithTimeout(w.Timeout).WithPolling(w.Poll).
			Should(gomega.Succeed(), "%s within %s", w.What, w.Timeout)
	}))
}

// withContext wraps ctx's error into err when ctx ended, so callers can
// tell an interrupted or timed-out step (errors.Is(err,
// context.DeadlineExceeded)) from a state that never came.
func withContext(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%w: %w", ctx.Err(), err)
}

// Holds checks that f's assertions keep passing for w.Timeout (gomega's
// Consistently); the error names w.What and the first failure.
func Holds(ctx context.Context, w Within, f func(g gomega.Gomega)) error {
	if w.Timeout <= 0 || w.Poll <= 0 {
		return fmt.Errorf("check %s holds: duration %s and poll %s must be positive", w.What, w.Timeout, w.Poll)
	}
	return withContext(ctx, Check(func(g gomega.Gomega) {
		g.Consistently(ctx, f).WithTimeout(w.Timeout).WithPolling(w.Poll).
			Should(gomega.Succeed(), "%s for %s", w.What, w.Timeout)
	}))
}
