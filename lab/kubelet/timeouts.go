package kubelet

import "time"

const (
	// restartPoll paces the wait for a restarted kubelet (service active,
	// /configz updated, node Ready); TuneOptions.Timeout bounds it.
	restartPoll = time.Second
	// RestartDelay is how long after the restart command systemd restarts
	// the kubelet: long enough for the command's answer to come back
	// through the kubelet that serves a node agent's exec.
	RestartDelay = 2 * time.Second
)

// restartAccuracy is the scheduled restart timer's AccuracySec (systemd's
// default, one minute, lets it fire up to a minute late).
const restartAccuracy = 100 * time.Millisecond
