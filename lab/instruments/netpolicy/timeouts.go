package netpolicy

import "time"

// Defaults of ProbeOptions.
const (
	// DefaultGrace is ProbeOptions.Grace when unset: enforcers program
	// their dataplane asynchronously, in a few seconds.
	DefaultGrace = 20 * time.Second
	// DefaultTimeout is ProbeOptions.Timeout when unset.
	DefaultTimeout = 3 * time.Minute
)

// Timeouts of the probe's steps; each is also bounded by ProbeOptions.Timeout.
const (
	// podStartTimeout covers pulling agnhost and starting both pods.
	podStartTimeout = 2 * time.Minute
	// baselineTimeout covers the server starting to listen.
	baselineTimeout = time.Minute
	// enforceSlack is how long past Grace the attempts may run, so one
	// attempt starts after Grace even when execs are slow.
	enforceSlack = 30 * time.Second
	// restoreTimeout is how long an enforcer may take to open up again.
	restoreTimeout = time.Minute
	// cleanupTimeout bounds deleting the probe's namespace.
	cleanupTimeout = 2 * time.Minute
	// execTimeout bounds one `agnhost connect` exec (connect itself gives up
	// after connectTimeout).
	execTimeout    = 20 * time.Second
	connectTimeout = 2 * time.Second
	// pollInterval paces the connection attempts.
	pollInterval = time.Second
	// keyTimeout bounds the lookup of the cache key.
	keyTimeout = 30 * time.Second
)

// roundTo is the precision of the delays the probe logs and reports.
const roundTo = 100 * time.Millisecond
