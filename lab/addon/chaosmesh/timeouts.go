package chaosmesh

import "time"

const (
	// ReadyTimeout bounds each wait of Install: pulling or loading the
	// images and starting the controller and a daemon per node.
	ReadyTimeout = 5 * time.Minute
	// RemoveTimeout bounds each wait of Remove: the CRDs (their chaos
	// objects finalized by the controller), then the namespace's pods.
	RemoveTimeout = 3 * time.Minute
	// readyPoll paces the readiness waits of Install.
	readyPoll = 2 * time.Second
)
