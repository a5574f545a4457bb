package memorypressure

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value).
var Timeouts = struct {
	// Prepare bounds the setup: a cold forge build of Chaos Mesh, the
	// kubelet restart with the measured threshold.
	Prepare time.Duration
	// Pitfall and Fix bound their steps (StressChaos ramps, evictions,
	// pressure clearing and staying clear).
	Pitfall, Fix time.Duration
	// NoStressorLeft bounds the final process check on every node.
	NoStressorLeft time.Duration
	// Cleanup bounds deleting the chaos, the namespace and restoring the
	// kubelet.
	Cleanup time.Duration
}{
	Prepare:        45 * time.Minute,
	Pitfall:        10 * time.Minute,
	Fix:            12 * time.Minute,
	NoStressorLeft: 3 * time.Minute,
	Cleanup:        8 * time.Minute,
}
