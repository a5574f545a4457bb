package networkpolicies

import "time"

const (
	// ReadyTimeout bounds Install's wait for the DaemonSet to be ready on
	// every node.
	ReadyTimeout = 5 * time.Minute
	// readyPoll paces that wait.
	readyPoll = 2 * time.Second
)
