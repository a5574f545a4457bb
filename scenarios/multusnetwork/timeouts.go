package multusnetwork

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value).
var Timeouts = struct {
	// Deploy bounds installing Multus and starting the attached pods.
	Deploy time.Duration
	// Traffic bounds the secondary-network traffic check.
	Traffic time.Duration
	// Policy bounds the pitfall and the fix (a policy applied, then
	// watched while connections are tried).
	Policy time.Duration
	// Routes bounds reading the routes of the host and every node.
	Routes time.Duration
	// Cleanup bounds deleting the namespace.
	Cleanup time.Duration
}{
	Deploy:  10 * time.Minute,
	Traffic: 5 * time.Minute,
	Policy:  6 * time.Minute,
	Routes:  2 * time.Minute,
	Cleanup: 5 * time.Minute,
}

// The scenario's physics: not waits, so not scaled.
const (
	// net1OpenAtLeast is the shortest time the pitfall watches new
	// connections over net1 keep working after eth0 closed (it watches as
	// long as eth0 took to close when that is longer): an assertion bound.
	net1OpenAtLeast = 10 * time.Second
	// connectTimeout is agnhost connect's --timeout for one new TCP
	// connection: how long an unanswered connection takes to count as
	// blocked.
	connectTimeout = 2 * time.Second
	// displayRound is the precision of durations in log lines and errors.
	displayRound = 100 * time.Millisecond
)
