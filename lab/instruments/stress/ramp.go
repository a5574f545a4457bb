package stress

import (
	"math/bits"
	"time"
)

// Ramp spreads the first touch of Pages pages linearly over Over, so
// resident memory grows at a constant rate instead of in one jump.
type Ramp struct {
	// Pages is how many pages to touch in total.
	Pages uint64
	// Over is the time to reach Pages; zero or negative means all at once.
	Over time.Duration
}

// Pages returns how many pages of pageSize cover n bytes (rounded up, since
// a partial last page is still a whole page of RSS).
func Pages(n, pageSize uint64) uint64 {
	return (n + pageSize - 1) / pageSize
}

// Target returns how many pages should have been touched after elapsed:
// Pages*elapsed/Over, rounded down, and Pages from Over on. The product is
// computed in 128 bits so terabyte sizes over long ramps cannot overflow.
func (r Ramp) Target(elapsed time.Duration) uint64 {
	if r.Over <= 0 || elapsed >= r.Over {
		return r.Pages
	}
	if elapsed <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(r.Pages, uint64(elapsed))
	q, _ := bits.Div64(hi, lo, uint64(r.Over)) // hi < Over because elapsed < Over
	return q
}

// Schedule returns the targets at every RampStep from the first step to
// the end, the last always being Pages; for all-at-once it is [Pages]. It
// shows the plan (tests, dry runs); the client itself calls Target with the
// real elapsed time so that a late tick catches up instead of drifting.
func (r Ramp) Schedule() []uint64 {
	if r.Over <= 0 {
		return []uint64{r.Pages}
	}
	steps := int((r.Over + RampStep - 1) / RampStep)
	out := make([]uint64, 0, steps)
	for i := 1; i <= steps; i++ {
		out = append(out, r.Target(time.Duration(i)*RampStep))
	}
	return out
}
