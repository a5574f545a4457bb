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
	// Pitfall bounds moving the worker's runtime root onto its own tmpfs,
	// tuning the kubelet (two kubelet restarts), the fill, the eviction and
	// the pressure clearing.
	Pitfall time.Duration
	// Fix bounds the emptyDir writer and the hold without pressure.
	Fix time.Duration
	// Cleanup bounds deleting the pods, restoring the kubelet config and
	// putting the original runtime root back (two more restarts).
	Cleanup time.Duration
	// LeftNothing bounds the final check of the worker.
	LeftNothing time.Duration

	// Pressure: the worker reports DiskPressure once the writer crossed
	// the threshold (eviction manager every 10 s, status every 10 s).
	Pressure time.Duration
	// Evicted: the writer is evicted after the pressure is seen.
	Evicted time.Duration
	// Cleared: DiskPressure is gone once the writer's layer is removed
	// (transitionPeriod plus a status update or two).
	Cleared time.Duration
	// Wrote: a writer reports its data written (dd to a tmpfs or the
	// node's disk).
	Wrote time.Duration
	// Poll is how often the waits look. Not scaled.
	Poll time.Duration
}{
	Compare:     3 * time.Minute,
	Agree:       45 * time.Second,
	Pitfall:     10 * time.Minute,
	Fix:         4 * time.Minute,
	Cleanup:     6 * time.Minute,
	LeftNothing: time.Minute,

	Pressure: 2 * time.Minute,
	Evicted:  2 * time.Minute,
	Cleared:  2 * time.Minute,
	Wrote:    time.Minute,
	Poll:     2 * time.Second,
}

// The physics of the scenario: durations it sets or asserts, not waits.
const (
	// availableTolerance bounds availableBytes against the two statfs
	// read around the summary request: on a kind node the image
	// filesystem is the host's, which other processes write to while the
	// request runs.
	availableTolerance = 8 << 20
	// snapshotTolerance bounds the CRI's usedBytes against the live sum of
	// snapshot usage: the CRI re-measures active snapshots (containers'
	// writable layers) every 10 s, and a container writing meanwhile moves
	// the live sum. Committed (image) snapshots do not change.
	snapshotTolerance = 4 << 20
	// inodeTolerance is the same for inodes.
	inodeTolerance = 1024
	// runtimeBack bounds containerd answering after a restart.
	runtimeBack = time.Minute
	// transitionPeriod replaces the kubelet's 5m
	// evictionPressureTransitionPeriod on the tuned worker: long enough
	// that a node status update (every 10 s) publishes DiskPressure even
	// when the kubelet evicts in the round it first sees the threshold.
	transitionPeriod = 20 * time.Second
	// quietFor is how long the tuned worker must stay without DiskPressure
	// before the fill (the control) and with the fix's data written:
	// two eviction-manager rounds and two status updates past the
	// transition period.
	quietFor = 30 * time.Second
)
