package cgroupaccounting

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value but the poll intervals).
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

	// WorkingSet bounds the wait for the kubelet's working_set (summary
	// API, refreshed by its housekeeping) to match usage − inactive_file.
	WorkingSet time.Duration
	// Growth bounds the wait for the app's working set to grow by
	// StressSize relative to the control once a StressChaos is injected.
	Growth time.Duration
	// Inject bounds creating a StressChaos until Chaos Mesh reports it
	// injected.
	Inject time.Duration
	// ChaosDelete bounds deleting one StressChaos (and, in cleanup, all of
	// the namespace's) until it is gone.
	ChaosDelete time.Duration
	// OOMKill bounds the wait for the cgroup's oom_kill counter to grow
	// once OOMStressSize is injected.
	OOMKill time.Duration
	// AppOOMKilled bounds the wait for the app container to show an
	// OOMKilled termination (exit 137) when the whole container is the
	// victim.
	AppOOMKilled time.Duration
	// AppSurvives is how long the app must keep running, without a
	// restart, when the stressor is the OOM victim.
	AppSurvives time.Duration
	// OOMPoll is the poll interval of the OOM waits (not scaled).
	OOMPoll time.Duration
	// StressorsGone bounds the wait for no stressor process on any node.
	StressorsGone time.Duration
	// Baseline bounds the wait for the app's working set to be back near
	// its baseline after the chaos.
	Baseline time.Duration
}{
	Prepare:        45 * time.Minute,
	Read:           2 * time.Minute,
	Stress:         5 * time.Minute,
	NoStressorLeft: 3 * time.Minute,
	Cleanup:        5 * time.Minute,

	WorkingSet:    time.Minute,
	Growth:        time.Minute,
	Inject:        2 * time.Minute,
	ChaosDelete:   2 * time.Minute,
	OOMKill:       time.Minute,
	AppOOMKilled:  time.Minute,
	AppSurvives:   10 * time.Second,
	OOMPoll:       time.Second,
	StressorsGone: time.Minute,
	Baseline:      time.Minute,
}

// ChaosBound ends every StressChaos by itself should the run die (the
// chaos's own duration, not a wait: not scaled).
const ChaosBound = 3 * time.Minute

// timelineBucket is the bucket size of the memory timeline (not scaled).
const timelineBucket = time.Second
