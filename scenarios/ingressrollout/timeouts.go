package ingressrollout

import "time"

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value but the poll intervals).
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
	// Goroutines bounds the leak check's wait for the goroutines to come
	// back near where Deploy found them (idle HTTP connections linger).
	Goroutines time.Duration
	// ListenerDial bounds one dial to an NLB listener the leak check
	// expects closed.
	ListenerDial time.Duration

	// RolloutPoll is the interval between looks at a Deployment and its
	// pods while a rollout goes on (not scaled).
	RolloutPoll time.Duration
	// TargetsPoll is the interval between looks at the NLB's target
	// states while waiting for a healthy target group (not scaled).
	TargetsPoll time.Duration
	// GoroutinePoll is the interval between goroutine counts in the leak
	// check (not scaled).
	GoroutinePoll time.Duration
}{
	Deploy:       40 * time.Minute,
	Pitfall:      8 * time.Minute,
	Fix:          12 * time.Minute,
	Cleanup:      5 * time.Minute,
	LeakCheck:    time.Minute,
	Goroutines:   10 * time.Second,
	ListenerDial: time.Second,

	RolloutPoll:   250 * time.Millisecond,
	TargetsPoll:   200 * time.Millisecond,
	GoroutinePoll: 200 * time.Millisecond,
}
