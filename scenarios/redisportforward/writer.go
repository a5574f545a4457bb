package redisportforward

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
	"github.com/nodelab/nodelab/lab/wait"
)

// steadyWriter writes one key at a steady pace and keeps the outcomes
// relative to the deletion of a master.
type steadyWriter struct {
	rec *timeline.Recorder
	mu  sync.Mutex
	s   writerState
	// stop ends run and waits for it; tl is the timeline built by finish.
	stop func()
	tl   *timeline.Timeline
}

type writerState struct {
	ok, failed int
	deletedAt  time.Time // zero until the master pod is deleted
	// After deletedAt: OK writes before the first failure, failures, and
	// the completion of the first OK write after a failure.
	okBeforeOutage, failedAfter int
	outageAt, recoveredAt       time.Time
	// After recoveredAt.
	okAfterRecovery, failedAfterRecovery int
	lastErr                              error
}

// startSteadyWriter starts writing key through cc (one SET every
// writerPace, writeAttempt per attempt), recorded on a timeline titled
// title. finish stops it.
func startSteadyWriter(ctx context.Context, cc *redis.ClusterClient, key, title string) *steadyWriter {
	w := &steadyWriter{rec: timeline.NewRecorder(title, "writes/s", time.Now())}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(wctx, cc, key)
	}()
	w.stop = func() {
		cancel()
		<-done
	}
	return w
}

// finish stops the writer and returns its timeline, built at the first call.
func (w *steadyWriter) finish() *timeline.Timeline {
	if w.tl == nil {
		w.stop()
		w.tl = w.rec.Build(timelineBucket, time.Now())
	}
	return w.tl
}

func (w *steadyWriter) markDeleted(at time.Time) {
	w.mu.Lock()
	w.s.deletedAt = at
	w.mu.Unlock()
}

func (w *steadyWriter) state() writerState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.s
}

func (w *steadyWriter) record(at time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.s
	recovered := !s.recoveredAt.IsZero()
	after := !s.deletedAt.IsZero() && at.After(s.deletedAt)
	if err != nil {
		s.failed++
		s.lastErr = err
		w.rec.Event("failed", at)
		switch {
		case recovered:
			s.failedAfterRecovery++
		case after:
			s.failedAfter++
			if s.outageAt.IsZero() {
				s.outageAt = at
			}
		}
		return
	}
	s.ok++
	w.rec.Event("ok", at)
	switch {
	case recovered:
		s.okAfterRecovery++
	case after && s.outageAt.IsZero():
		s.okBeforeOutage++
	case after:
		s.recoveredAt = at
	}
}

// run writes until ctx ends: one SET every writerPace, writeAttempt per
// attempt. The ticker is the load's pacing, not a wait.
func (w *steadyWriter) run(ctx context.Context, cc *redis.ClusterClient, key string) {
	tick := time.NewTicker(writerPace)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		actx, cancel := context.WithTimeout(ctx, writeAttempt)
		err := cc.Set(actx, key, i, 0).Err()
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.record(time.Now(), err)
	}
}

// waitFor polls the writer's state (every Timeouts.WriterPoll) until done
// holds, at most timeout; what names the state in the error.
func (w *steadyWriter) waitFor(ctx context.Context, what string, timeout time.Duration, done func(writerState) bool) error {
	err := wait.Until(ctx, wait.Within{What: what, Timeout: timeout, Poll: Timeouts.WriterPoll}, func(g gomega.Gomega) {
		s := w.state()
		g.Expect(done(s)).To(gomega.BeTrue(), "writes: %d ok, %d failed; last error: %s", s.ok, s.failed, errText(s.lastErr))
	})
	if err != nil {
		s := w.state()
		return fmt.Errorf("%w (writes at the end: %d ok, %d failed; last error: %s)", err, s.ok, s.failed, errText(s.lastErr))
	}
	return nil
}
