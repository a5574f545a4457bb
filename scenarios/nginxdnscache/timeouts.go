package nginxdnscache

import "time"

// The configuration's durations (rendered into nginx.conf.tmpl).
const (
	// Valid is the fix's resolver valid=: how long nginx caches an answer,
	// whatever its TTL.
	Valid = 5 * time.Second
	// ConnectTimeout is proxy_connect_timeout: a vanished backend address
	// (no ARP answer) fails a connect after this, instead of nginx's 60 s.
	ConnectTimeout = time.Second
	// ReadTimeout is proxy_read_timeout.
	ReadTimeout = 2 * time.Second
)

// The measurement's bounds.
const (
	// RequestTimeout bounds each probe request (nginx tries both old
	// upstreams, ConnectTimeout each, before it answers 502/504).
	RequestTimeout = 3 * time.Second
	// LeadIn is how long the load runs against the current backends before
	// the replacement.
	LeadIn = 3 * time.Second
	// MinBroken is how long the pitfall watches nginx keep failing after
	// every CoreDNS pod answered the new addresses.
	MinBroken = 15 * time.Second
	// MinHealthy is how long the fix watches requests succeed after the
	// recovery bound.
	MinHealthy = 10 * time.Second
)

// Timeouts is this scenario's timeout table (unscaled; NODELAB_TIMEOUT_SCALE
// multiplies every value but the poll intervals).
var Timeouts = struct {
	// Deploy bounds the setup: image, backends, DNS, two nginx pods.
	Deploy time.Duration
	// Side bounds one side: load, replacement, DNS, observation.
	Side time.Duration
	// Cleanup bounds deleting the namespace.
	Cleanup time.Duration
	// LeftNothing bounds the final check.
	LeftNothing time.Duration

	// FirstAnswer: nginx answers with a backend's name through the
	// port-forward (nginx listening, the backends reachable).
	FirstAnswer time.Duration
	// DNSUpdated: every CoreDNS pod answers the new addresses (CoreDNS's
	// cache keeps an answer up to its TTL, 30 s in kubeadm's Corefile).
	DNSUpdated time.Duration
	// ProbeMax is the probe's own hard bound (Side's); each side stops it
	// sooner, and a probe that stopped by itself fails the side.
	ProbeMax time.Duration
	// Poll and FastPoll are how often the waits look (FastPoll for the
	// moment the old backends are gone). Not scaled.
	Poll, FastPoll time.Duration
}{
	Deploy:      5 * time.Minute,
	Side:        4 * time.Minute,
	Cleanup:     3 * time.Minute,
	LeftNothing: 30 * time.Second,

	FirstAnswer: time.Minute,
	DNSUpdated:  90 * time.Second,
	ProbeMax:    4 * time.Minute,
	Poll:        time.Second,
	FastPoll:    250 * time.Millisecond,
}

// displayRound rounds the measured durations in the report.
const displayRound = 100 * time.Millisecond

// dnsTimeout bounds one DNS question to one CoreDNS pod.
const dnsTimeout = 5 * time.Second
