package oomevents

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value but the poll interval and the observation windows).
var Timeouts = struct {
	// Prepare bounds the setup: picking a worker, reading its kubelet and
	// pods cgroup, building and loading node-problem-detector, starting it.
	Prepare time.Duration
	// ContainerLimit bounds the container-limit step: the pod starts, is
	// OOM-killed and restarted, the kills are matched with the kernel log
	// and node-problem-detector's events, the pod deleted.
	ContainerLimit time.Duration
	// Pitfall bounds the kubelet's retuning (one restart) and the burst
	// without requests, until the kills and the kubelet's reaction are in.
	Pitfall time.Duration
	// Fix bounds the same burst with requests and its observation.
	Fix time.Duration
	// Cleanup bounds deleting the namespace and the binding and restoring
	// the kubelet (a restart).
	Cleanup time.Duration
	// LeftNothing bounds the final comparison with what Prepare saw.
	LeftNothing time.Duration

	// Restarted: the over-limit container has been OOM-killed and
	// restarted at least once (the kill comes within a second of its
	// start; the first restart after 10 s of back-off at most).
	Restarted time.Duration
	// Reported: node-problem-detector has turned a kernel kill into an
	// event (it reads /dev/kmsg as lines arrive).
	Reported time.Duration
	// BurstLead is how long after the burst pods are created they all
	// allocate at once: long enough for the three to start.
	BurstLead time.Duration
	// Killed: the kernel kills within the burst's allocation (about 0.5 s).
	Killed time.Duration
	// Watch is how long each side watches after the burst (not scaled): two
	// of the kubelet's 10 s eviction (housekeeping) intervals, so an
	// eviction the kubelet would make is seen.
	Watch time.Duration
	// Evicted: after the fix's watch, the kubelet has evicted a replica
	// (cAdvisor's stats can be 10-15 s old, plus the 10 s eviction loop).
	Evicted time.Duration
	// NoPressure: the pitfall's MemoryPressure condition and taint are
	// gone (the next node status update plus PressureTransition).
	NoPressure time.Duration
	// Settled: after the burst pods are deleted, the pods cgroup's usage
	// is back near what Prepare measured.
	Settled time.Duration
	// Allocatable: the retuned kubelet publishes the node's new
	// allocatable memory.
	Allocatable time.Duration
	// Poll is how often the waits look. Not scaled.
	Poll time.Duration
}{
	Prepare:        6 * time.Minute,
	ContainerLimit: 3 * time.Minute,
	Pitfall:        6 * time.Minute,
	Fix:            3 * time.Minute,
	Cleanup:        8 * time.Minute,
	LeftNothing:    time.Minute,

	Restarted:   90 * time.Second,
	Reported:    20 * time.Second,
	BurstLead:   20 * time.Second,
	Killed:      30 * time.Second,
	Watch:       25 * time.Second,
	Evicted:     time.Minute,
	NoPressure:  2 * time.Minute,
	Settled:     time.Minute,
	Allocatable: time.Minute,
	Poll:        time.Second,
}

// The physics of the scenario: durations it sets, not waits; not scaled.
const (
	// PressureTransition replaces the kubelet's 5m
	// evictionPressureTransitionPeriod on the tuned worker: after the
	// pitfall's evictions its memory-pressure taint would otherwise keep
	// the fix's pods off the worker for five minutes.
	PressureTransition = 5 * time.Second
	// exporterSlack: the exporter keeps events up to this much older than
	// its start (event times have whole seconds).
	exporterSlack = time.Second
)
