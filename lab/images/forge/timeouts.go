package forge

import "time"

const (
	// containerdTimeout bounds the waits for the build container's
	// containerd to answer after its start and to stop after pkill.
	containerdTimeout = 30 * time.Second
	// containerdPoll paces those waits; each check is a docker exec.
	containerdPoll = 250 * time.Millisecond
	// toolCleanupDelay is how long a cancelled tool may take to clean up
	// after its interrupt before it is killed (exec.Cmd.WaitDelay).
	toolCleanupDelay = 10 * time.Second
	// cleanupTimeout bounds removing what a cancelled step created, on a
	// fresh context.
	cleanupTimeout = time.Minute
)

// Precision of printed durations: whole seconds from showSecondsFrom up,
// tenths of a second from showTenthsFrom up, milliseconds below.
const (
	showSecondsFrom = time.Minute
	showTenthsFrom  = time.Second
	tenth           = 100 * time.Millisecond
)
