package memorypressure

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value but the poll intervals, which r.env.Scaled is not
// applied to).
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

	// ChaosInjected: a StressChaos reports its stress injected into the
	// selected pods.
	ChaosInjected time.Duration
	// ChaosDeleted: a deleted StressChaos (its finalizer recovering the
	// stress) is gone.
	ChaosDeleted time.Duration
	// WorkingSet: a stressed pod's working set, as the summary API shows it,
	// reaches the stress (pod stats lag the node's by up to ~15 s).
	WorkingSet time.Duration
	// AppEvicted: in the pitfall, the BestEffort app is evicted once the hog
	// holds HogStress.
	AppEvicted time.Duration
	// EvictionOrder: in the fix, the three pods that must go (over-request,
	// BestEffort, the hog) are all evicted after the last stress step.
	EvictionOrder time.Duration
	// PressureReported: after the evictions, the watch has seen the node's
	// MemoryPressure condition or taint (node status updates every ~10 s).
	PressureReported time.Duration
	// EvictedEvent: the Evicted event of an evicted pod is listed.
	EvictedEvent time.Duration
	// PressureCleared: MemoryPressure and its taint are gone once the
	// pressure is gone (TransitionPeriod plus a status update or two).
	PressureCleared time.Duration
	// StressorsGone: no stressor process is left on any node after the
	// chaos ended.
	StressorsGone time.Duration

	// EvictionPoll is how often the waits on the watch's observations
	// (evictions, condition, taint) look; the watch samples every
	// sampleEvery. Not scaled.
	EvictionPoll time.Duration
}{
	Prepare:        45 * time.Minute,
	Pitfall:        10 * time.Minute,
	Fix:            12 * time.Minute,
	NoStressorLeft: 3 * time.Minute,
	Cleanup:        8 * time.Minute,

	ChaosInjected:    2 * time.Minute,
	ChaosDeleted:     2 * time.Minute,
	WorkingSet:       time.Minute,
	AppEvicted:       3 * time.Minute,
	EvictionOrder:    4 * time.Minute,
	PressureReported: 30 * time.Second,
	EvictedEvent:     30 * time.Second,
	PressureCleared:  3 * time.Minute,
	StressorsGone:    time.Minute,

	EvictionPoll: time.Second,
}

// The physics of the scenario: durations it sets or asserts, not waits;
// they are not scaled.
const (
	// TransitionPeriod replaces the kubelet's 5m
	// evictionPressureTransitionPeriod on the tuned worker, so "pressure
	// clears" is seen in the run.
	TransitionPeriod = 15 * time.Second
	// StableFor is how long the cleared node must stay clear.
	StableFor = 30 * time.Second
	// ChaosBound ends every StressChaos by itself (spec.duration) should the
	// run die: the host is never left under pressure.
	ChaosBound = 4 * time.Minute
	// quietFor is how long the tuned worker, with no stress at all, must
	// stay without MemoryPressure (the negative control of Prepare): two
	// transition periods.
	quietFor = 2 * TransitionPeriod

	// sampleEvery is the watch's sampling period (node condition and taint,
	// evictions, the memory timeline).
	sampleEvery = time.Second
	// timelineBucket is the bucket size of the memory timeline.
	timelineBucket = time.Second
	// displayRound rounds the offsets in log lines.
	displayRound = 100 * time.Millisecond
)
