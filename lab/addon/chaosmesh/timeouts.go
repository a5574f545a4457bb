package chaosmesh

import "time"

const (
	// ReadyTimeout bounds each wait of Install: pulling or loading the
	// images and starting the controller and a daemon per node.
	ReadyTimeout = 5 * time.Minute
	// readyPoll paces the readiness waits of Install.
	readyPoll = 2 * time.Second
)
