package multinetworkpolicy

import "time"

const (
	// ReadyTimeout bounds each wait of Install (CRD Established, the
	// enforcer DaemonSet ready on every node).
	ReadyTimeout = 5 * time.Minute
	// readyPoll paces the enforcer's readiness wait.
	readyPoll = 2 * time.Second
)
