package ingressrollout

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value).
var Timeouts = struct {
	// Deploy bounds loading the images (a cold forge build of Traefik
	// included) and starting Traefik, the backend and the NLB.
	Deploy time.Duration
	// Pitfall bounds one rollout under load; Fix bounds three.
	Pitfall, Fix time.Duration
	// Cleanup bounds deleting the namespace, cluster objects and the NLB.
	Cleanup time.Duration
	// LeakCheck bounds the leak check after Cleanup.
	LeakCheck time.Duration
}{
	Deploy:    40 * time.Minute,
	Pitfall:   8 * time.Minute,
	Fix:       12 * time.Minute,
	Cleanup:   5 * time.Minute,
	LeakCheck: time.Minute,
}
