package cgroupaccounting

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value).
var Timeouts = struct {
	// Prepare bounds the setup (a cold forge build of Chaos Mesh included).
	Prepare time.Duration
	// Read bounds the steps that only read files and pod status.
	Read time.Duration
	// Stress bounds the steps that inject a StressChaos and wait for its
	// effect (growth, OOM kill).
	Stress time.Duration
	// NoStressorLeft bounds the final check on every node.
	NoStressorLeft time.Duration
	// Cleanup bounds deleting the chaos and the namespace.
	Cleanup time.Duration
}{
	Prepare:        45 * time.Minute,
	Read:           2 * time.Minute,
	Stress:         5 * time.Minute,
	NoStressorLeft: 3 * time.Minute,
	Cleanup:        5 * time.Minute,
}
