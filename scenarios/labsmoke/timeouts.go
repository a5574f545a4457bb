package labsmoke

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value). The waits inside the steps use the shared table
// (scenarios.Timeouts: NodeReady, PodStart, Network).
var Timeouts = struct {
	// Step bounds the steps that wait for nodes or pods to start.
	Step time.Duration
	// Traffic bounds the steps that send traffic or read /configz.
	Traffic time.Duration
	// Cleanup bounds deleting the namespace.
	Cleanup time.Duration
}{
	Step:    10 * time.Minute,
	Traffic: 5 * time.Minute,
	Cleanup: 5 * time.Minute,
}
