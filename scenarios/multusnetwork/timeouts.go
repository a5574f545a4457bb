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
