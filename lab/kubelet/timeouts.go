package kubelet

import "time"

const (
	// restartPoll paces the wait for a restarted kubelet (service active,
	// /configz updated, node Ready); TuneOptions.Timeout bounds it.
	restartPoll = time.Second
	// restartDelay is how long after the restart command systemd restarts
	// the kubelet: long enough for the command's answer to come back
	// through the kubelet that serves a node agent's exec.
	restartDelay = 2 * time.Second
)
