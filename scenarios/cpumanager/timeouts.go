package cpumanager

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value but the poll intervals).
var Timeouts = struct {
	// Prepare bounds the setup: picking a worker, reading its CPUs, the
	// checkpoint and /configz, draining it.
	Prepare time.Duration
	// Pitfall bounds the policy change without the checkpoint removed, the
	// refusal in the journal and the kubelet staying down.
	Pitfall time.Duration
	// Fix bounds the documented procedure and the kubelet's restart.
	Fix time.Duration
	// Check bounds the seed's check: two pods start, their cpusets read.
	Check time.Duration
	// Cleanup bounds deleting the pods, the shared pool coming back, the
	// restore (another kubelet restart) and the uncordon.
	Cleanup time.Duration
	// LeftNothing bounds the final comparison with what Prepare saw.
	LeftNothing time.Duration

	// Drain bounds the eviction of the worker's pods (the drain helper's
	// own timeout).
	Drain time.Duration
	// Refused: the restarted kubelet logs the checkpoint refusal (systemd
	// starts it RestartDelay after the rewrite; it fails within a second).
	Refused time.Duration
	// StaysDown: no kubelet process lives longLived for this long after
	// the refusal, while systemd restarts it every second (kind's unit has
	// RestartSec=1s and no start limit): it does not come back by itself.
	StaysDown time.Duration
	// Reconciled: after the pinned pod is gone, the CPU manager gives its
	// CPUs back to the shared pool and every container's cpuset is the
	// whole node again (its reconcile loop runs every 10 s by default).
	Reconciled time.Duration
	// Poll is how often the waits look. Not scaled.
	Poll time.Duration
}{
	Prepare:     4 * time.Minute,
	Pitfall:     2 * time.Minute,
	Fix:         6 * time.Minute,
	Check:       4 * time.Minute,
	Cleanup:     10 * time.Minute,
	LeftNothing: time.Minute,

	Drain:      2 * time.Minute,
	Refused:    45 * time.Second,
	StaysDown:  15 * time.Second,
	Reconciled: time.Minute,
	Poll:       time.Second,
}

// longLived is a kubelet process age that means it started: a refused
// start exits within half a second.
const longLived = 5 * time.Second
