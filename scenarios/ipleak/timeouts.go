package ipleak

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value but the poll intervals).
var Timeouts = struct {
	// Prepare bounds the setup: picking a worker, reading its pod network,
	// writing the narrowed configuration.
	Prepare time.Duration
	// Pitfall bounds the leak: four pods, a kubelet and containerd
	// restart, the pods back with new sandboxes, two late pods refused.
	Pitfall time.Duration
	// Fix bounds releasing the orphans and the late pods starting.
	Fix time.Duration
	// LeftNothing bounds the final check of the node's files.
	LeftNothing time.Duration
	// Cleanup bounds deleting the pods (their CNI DEL), the configuration
	// and the reservation folder, and starting a stopped kubelet.
	Cleanup time.Duration

	// ConfLoaded: the CRI reports the narrowed network after the file is
	// written (containerd watches the directory).
	ConfLoaded time.Duration
	// RuntimeBack: containerd answers again after its restart.
	RuntimeBack time.Duration
	// Refused: a late pod gets its FailedCreatePodSandBox event (the
	// kubelet tries a sandbox at once; the event is listed within seconds).
	Refused time.Duration
	// StaysPending: the late pods stay Pending for this long with the range
	// full (the negative control of the fix; the kubelet retries every
	// ~10 s, so this sees two or three retries fail).
	StaysPending time.Duration
	// Recovered: a late pod runs once the orphans are released (the
	// kubelet's pod worker retries a failed sandbox after its back-off,
	// 10 s at first).
	Recovered time.Duration
	// Poll is how often the waits look. Not scaled.
	Poll time.Duration
}{
	Prepare:     2 * time.Minute,
	Pitfall:     8 * time.Minute,
	Fix:         4 * time.Minute,
	LeftNothing: time.Minute,
	Cleanup:     5 * time.Minute,

	ConfLoaded:   30 * time.Second,
	RuntimeBack:  time.Minute,
	Refused:      time.Minute,
	StaysPending: 25 * time.Second,
	Recovered:    2 * time.Minute,
	Poll:         time.Second,
}

// displayRound rounds the measured durations in the report.
const displayRound = 100 * time.Millisecond
