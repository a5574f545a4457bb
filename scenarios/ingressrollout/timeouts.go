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

// The scenario's physics: how long the load runs around the rollouts, what
// the fix's tuning is made of, and how durations are rounded. None of these
// is a wait, so none is scaled.
const (
	// baseline is how long load runs before the first rollout: the control,
	// which must not fail a single request.
	baseline = 3 * time.Second
	// tail is how long load goes on after the last rollout is over.
	tail = 2 * time.Second
	// minExposure leaves out exposures shorter than kube-proxy's own lag.
	minExposure = 300 * time.Millisecond

	// KeepAliveAge is how long the fix lets a keep-alive connection live
	// (scaled like the NLB: 2 s here is 60 s on AWS's clock).
	KeepAliveAge = 2 * time.Second
	// traefikGrace is Traefik's default graceTimeOut: how long it lets
	// requests in flight finish after SIGTERM.
	traefikGrace = 10 * time.Second
	// preStopMargin is what the fix's preStop sleep keeps over the time the
	// NLB needs to stop sending new flows (plus KeepAliveAge and a check
	// interval).
	preStopMargin = 2 * time.Second
	// graceMargin is what the fix's grace period keeps over preStop plus
	// Traefik's drain (traefikGrace).
	graceMargin = 5 * time.Second
	// minReadyMargin is what the fix's minReadySeconds keeps, for instance
	// targets, over the time a node with a new pod takes to turn healthy.
	minReadyMargin = 2 * time.Second
	// ipMinReady is the fix's minReadySeconds for ip targets, which wait in
	// the readiness gate instead.
	ipMinReady = 2 * time.Second

	// apiSecond is the unit of the Kubernetes fields the tuning sets
	// (minReadySeconds, terminationGracePeriodSeconds, the preStop sleep's
	// seconds): durations are rounded or truncated to it.
	apiSecond = time.Second
	// requestRound rounds a request's duration for display.
	requestRound = time.Millisecond
	// displayRound rounds a rollout's duration for display.
	displayRound = 100 * time.Millisecond
)
