package redisportforward

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every wait, through Env.Scaled; poll intervals are not scaled).
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
	// SteadyWrites bounds the failover step's steady writer reaching a
	// steady state: 10 OK writes before the deletion, 20 after recovery.
	SteadyWrites time.Duration
	// WriterPoll is how often the failover step looks at the steady
	// writer's counts (not scaled; the writer writes every writerPace).
	WriterPoll time.Duration
	// GoroutinesSettle bounds the goroutine count coming back within
	// LeakAllowance once every forward is closed.
	GoroutinesSettle time.Duration
	// GoroutinePoll is how often CheckNoLeaks counts goroutines (not scaled).
	GoroutinePoll time.Duration
}{
	Deploy:           20 * time.Minute,
	Pitfall:          3 * time.Minute,
	InCluster:        10 * time.Minute,
	Fix2:             5 * time.Minute,
	NoForwardsLeft:   2 * time.Minute,
	Cleanup:          5 * time.Minute,
	LeakCheck:        time.Minute,
	SteadyWrites:     10 * time.Second,
	WriterPoll:       100 * time.Millisecond,
	GoroutinesSettle: 15 * time.Second,
	GoroutinePoll:    200 * time.Millisecond,
}

// The physics of the scenario: bounds it asserts and the pace of its load.
// These are not waits and are not scaled.
const (
	// RecoverBound is how long the remapping client may take to write again
	// after a master pod is deleted: cluster-node-timeout (5s) plus the
	// replica's election and the client's slot reload (StateReload), with
	// margin for a 2-core host. The failover step waits this long for the
	// first OK write and asserts the recovery within it.
	RecoverBound = 45 * time.Second
	// StateReload is how often fix 2's client reloads the cluster's slot
	// map by itself (go-redis ClusterStateReloadInterval).
	StateReload = 2 * time.Second
	// writerPace is the steady writer's interval between SETs.
	writerPace = 100 * time.Millisecond
	// writeAttempt bounds one SET of the steady writer, so that a write to a
	// dead master fails (and is counted) instead of hanging.
	writeAttempt = time.Second
	// timelineBucket is the bucket size of the failover timeline.
	timelineBucket = 500 * time.Millisecond
	// displayRound rounds a measured duration for log lines and measurements.
	displayRound = 100 * time.Millisecond
)

// Client settings: how long one dial or one reply may take. They shape what
// the clients see (a dial error, not a hang) and are not scaled.
const (
	// probeDial bounds one dial from the host to a pod IP (the pitfall's
	// precondition) or to a closed local port (the leak check).
	probeDial = time.Second
	// clientDial is the DialTimeout of the plain, remapped and node clients.
	clientDial = 2 * time.Second
	// plainRead is the ReadTimeout of the single-forward client.
	plainRead = 3 * time.Second
	// clusterRead is the ReadTimeout of the cluster clients.
	clusterRead = 2 * time.Second
	// nodeRead is the ReadTimeout of a node client: it must outlast a
	// MIGRATE (migrateTimeout).
	nodeRead = 5 * time.Second
	// pitfallDial is the DialTimeout of the pitfall's cluster client: with
	// DialerRetries 1 it keeps 30 writes within a minute on a host where pod
	// IPs time out rather than refuse.
	pitfallDial = time.Second
	// migrateTimeout is MIGRATE's own timeout, sent in milliseconds.
	migrateTimeout = 5 * time.Second
)
