package scenarios

import "time"

// Timeouts is the shared table of waits every scenario uses besides its
// own. Values are for a 2-core host; Env.Scale multiplies them all.
type Timeouts struct {
	// PodStart: a pod from a preloaded image becomes Ready.
	PodStart time.Duration
	// NodeReady: every node reports Ready.
	NodeReady time.Duration
	// Network: pod-to-pod or Service traffic starts to flow after pods are Ready.
	Network time.Duration
	// Cleanup: a namespace and its pods are gone.
	Cleanup time.Duration
	// Poll is the polling interval of Eventually-style waits.
	Poll time.Duration
}

// DefaultTimeouts are the unscaled values.
var DefaultTimeouts = Timeouts{
	PodStart:  3 * time.Minute,
	NodeReady: 5 * time.Minute,
	Network:   90 * time.Second,
	Cleanup:   3 * time.Minute,
	Poll:      2 * time.Second,
}
