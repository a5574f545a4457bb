package nlbtargets

import "time"

// defaultPoll is Options.Poll when unset: the resync period, far below the
// propagation delays the NLB models.
const defaultPoll = 200 * time.Millisecond
