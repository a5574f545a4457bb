package multus

import "time"

const (
	// ReadyTimeout bounds each wait of Install (CRDs Established, the
	// DaemonSet ready and its config written on every node).
	ReadyTimeout = 5 * time.Minute
	// RemoveTimeout bounds each wait of a removal from an attached cluster
	// (its pods stop within their grace period).
	RemoveTimeout = 3 * time.Minute
	// readyPoll paces Install's readiness wait.
	readyPoll = 2 * time.Second
	// pluginBuildTimeout bounds `go install` of the reference CNI plugins:
	// a cold module cache downloads them first.
	pluginBuildTimeout = 15 * time.Minute
)
