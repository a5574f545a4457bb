package lab

import "time"

// lab's own timeouts: lifecycle bounds that callers do not set. Waits whose
// timeout the caller passes (WaitNodesReady, WaitPodRunning,
// DeleteNamespace) only take their poll interval from here.
const (
	// defaultReadyTimeout is UpOptions.ReadyTimeout when unset: a kind
	// cluster's nodes go Ready within a minute or two on a 2-core host.
	defaultReadyTimeout = 5 * time.Minute
	// createStopTimeout bounds how long an interrupted Up keeps deleting
	// nodes under kind's create until it returns.
	createStopTimeout = 3 * time.Minute
	// createStopPoll is how often an interrupted Up deletes the nodes again.
	createStopPoll = 2 * time.Second
	// cleanupTimeout bounds deleting a lab's containers, kubeconfig, record
	// and network after a failed or interrupted Up.
	cleanupTimeout = 2 * time.Minute
	// dockerAnswerTimeout bounds CheckDocker: a running engine answers
	// `docker version` in well under a second.
	dockerAnswerTimeout = 15 * time.Second
	// attachTimeout bounds Attach's /version probe of the API server.
	attachTimeout = 30 * time.Second
	// nodeAgentStartTimeout bounds each node agent pod's start: the image
	// is a workload image (loaded, or pulled once, 43 MB).
	nodeAgentStartTimeout = 2 * time.Minute
	// nodeAgentStopTimeout bounds deleting the agents' namespace (the pods
	// stop in about a second: grace period 1 s).
	nodeAgentStopTimeout = 2 * time.Minute
	// nodeDialTimeout bounds DialNodes' TCP connect to one node: a node on
	// a reachable network answers in milliseconds.
	nodeDialTimeout = 3 * time.Second
	// pullTimeout bounds the probe pull of the upstream node image in auto mode.
	pullTimeout = 10 * time.Minute

	// nodesReadyPoll paces WaitNodesReady: kubelets post status every 10s.
	nodesReadyPoll = 2 * time.Second
	// namespaceGonePoll paces DeleteNamespace: finalizers take seconds.
	namespaceGonePoll = 2 * time.Second
	// podRunningPoll paces WaitPodRunning.
	podRunningPoll = time.Second
)
