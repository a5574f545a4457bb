package loadprobe

import "time"

// Duration defaults of Options.
const (
	// DefaultTimeout is Options.Timeout when unset.
	DefaultTimeout = 2 * time.Second
	// DefaultWindow is Options.Window when unset.
	DefaultWindow = 30 * time.Second
)

const (
	// idleConnTimeout is how long a keep-alive connection may idle in the
	// pool (net/http's DefaultTransport value).
	idleConnTimeout = 90 * time.Second
	// minPaceInterval is the shortest tick of the request pacer, however
	// high the rate.
	minPaceInterval = time.Millisecond
)

// Bucket is the timeline's bucket: rates are per second over 100 ms.
const Bucket = 100 * time.Millisecond
