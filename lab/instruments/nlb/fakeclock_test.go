package nlb

import (
	"sync"
	"time"
)

// fakeClock is a Clock that moves only when Advance is called. AfterFunc
// callbacks run synchronously inside Advance, so that when Advance returns
// every state change due by then has happened; ticks are delivered on
// buffered channels and handled by the NLB's own goroutines.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	c      *fakeClock
	seq    int
	when   time.Time
	period time.Duration // > 0 for tickers
	f      func()
	ch     chan time.Time
}

var _ Clock = (*fakeClock)(nil)

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	return c.add(d, 0, f)
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("fakeClock: non-positive ticker period")
	}
	return fakeTicker{c.add(d, d, nil)}
}

func (c *fakeClock) add(d, period time.Duration, f func()) *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, seq: c.seq, when: c.now.Add(d), period: period, f: f}
	if period > 0 {
		t.ch = make(chan time.Time, 1)
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d, firing every timer and ticker due
// on the way in time order (creation order for equal times). Timers created
// by callbacks fire too when they fall within d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if t.when.After(end) {
				continue
			}
			if next == nil || t.when.Before(next.when) || t.when.Equal(next.when) && t.seq < next.seq {
				next = t
			}
		}
		if next == nil {
			break
		}
		if next.when.After(c.now) {
			c.now = next.when
		}
		if next.period > 0 {
			next.when = next.when.Add(next.period)
			select {
			case next.ch <- c.now:
			default: // a slow reader drops ticks, as with time.Ticker
			}
			continue
		}
		c.removeLocked(next)
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// Pending returns how many timers and tickers are active.
func (c *fakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *fakeClock) removeLocked(t *fakeTimer) bool {
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.removeLocked(t)
}

type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) C() <-chan time.Time { return k.t.ch }
func (k fakeTicker) Stop()               { k.t.Stop() }
