package imagefsstats

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value but the poll intervals).
var Timeouts = struct {
	// Compare bounds the per-node comparison, retries included.
	Compare time.Duration
	// Agree: on one node, the summary, the CRI, the snapshotter and statfs
	// agree (the CRI refreshes its snapshot usage every 10 s, so a reading
	// taken while it refreshes is retried).
	Agree time.Duration
	// Poll is how often a disagreeing reading is retried. Not scaled.
	Poll time.Duration
}{
	Compare: 3 * time.Minute,
	Agree:   45 * time.Second,
	Poll:    2 * time.Second,
}

// availableTolerance bounds availableBytes against the two statfs read
// around the summary request: on a kind node the image filesystem is the
// host's, which other processes write to while the request runs.
const availableTolerance = 8 << 20
