package nlb

import "time"

// AWS's numbers that AWSDefaults and UseHealthCheckNodePort use; AWSDefaults
// cites where each comes from.
const (
	awsHealthCheckInterval       = 30 * time.Second
	awsHealthCheckTimeoutTCP     = 10 * time.Second
	awsHealthCheckTimeoutHTTP    = 6 * time.Second
	awsRegistrationPropagation   = 180 * time.Second
	awsDeregistrationPropagation = 180 * time.Second
	awsDeregistrationDelay       = 300 * time.Second
	// defaultConnectTimeout is not an AWS number: a bound for a dead target.
	defaultConnectTimeout = 10 * time.Second
)

// minScaledTimeout is the least TimeScale makes of a health-check
// timeout.
const minScaledTimeout = time.Second

// minScaledConnectTimeout is the least TimeScale makes of ConnectTimeout.
// Linux retransmits a SYN that got no answer after its initial RTO of
// 1 s; a connect timeout at or below that turns one dropped SYN (a
// conntrack or iptables update on the node, a busy CPU) into a failed
// flow, which a real NLB, whose client's TCP stack retransmits, never
// shows. 3 s lets one retransmission be answered.
const minScaledConnectTimeout = 3 * time.Second

// SlowDial is the connection time from which a dial counts as slow
// (TargetStats.SlowDials): Linux's initial SYN retransmission timeout, so
// a slow dial is one whose SYN or SYN-ACK was lost at least once.
const SlowDial = time.Second

// The accept loop's back-off after an error such as running out of file
// descriptors: doubling from acceptBackoffMin up to acceptBackoffMax, as
// net/http's Server does.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)
