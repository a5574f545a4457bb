package cgroupaccounting

// The sizes the runbook injects and the tolerances its assertions allow.
const (
	// Limit is the app's memory limit (the seed's 500Mi).
	Limit = 500 << 20
	// StressSize is injected into the app, well inside its limit.
	StressSize = 256 << 20
	// GrowthTolerance bounds |growth − StressSize| of the app's working set
	// relative to the control (memStress touches every page it maps; the
	// rest is the stressor's own binary and stacks).
	GrowthTolerance = 16 << 20
	// PageCacheSize is written to a file in the app container so its cgroup
	// holds reclaimable page cache: working_set must leave it out.
	PageCacheSize = 64 << 20
	// WorkingSetTolerance bounds |kubelet working_set − (usage −
	// inactive_file)|: the two are read a moment apart.
	WorkingSetTolerance = 8 << 20
	// OOMStressSize is more than Limit: the container's cgroup must OOM.
	OOMStressSize = 640 << 20
)
