package redisportforward

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value).
var Timeouts = struct {
	// Deploy bounds loading the redis image (a cold forge build included)
	// and forming the 6-pod cluster.
	Deploy time.Duration
	// Pitfall bounds the single-forward client seeing MOVED.
	Pitfall time.Duration
	// InCluster bounds fix 1's Job (1000 keys written and read in-cluster).
	InCluster time.Duration
	// Fix2 bounds each of fix 2's steps (forwards, slot migration, failover).
	Fix2 time.Duration
	// NoForwardsLeft bounds closing the forwards and the leak check.
	NoForwardsLeft time.Duration
	// Cleanup bounds deleting the namespace.
	Cleanup time.Duration
	// LeakCheck bounds the leak check after Cleanup.
	LeakCheck time.Duration
}{
	Deploy:         20 * time.Minute,
	Pitfall:        3 * time.Minute,
	InCluster:      10 * time.Minute,
	Fix2:           5 * time.Minute,
	NoForwardsLeft: 2 * time.Minute,
	Cleanup:        5 * time.Minute,
	LeakCheck:      time.Minute,
}
