// Package loadprobe sends bounded HTTP load to a lab address and records
// every request, so that a rollout scenario can show which requests failed,
// how (refused, reset, timeout, 5xx) and because of which rollout event.
//
// # Network rule
//
// The probe only talks to loopback or to the lab's own addresses: Options
// must name an IP literal that is loopback or inside Options.Allow, and
// Allow may only hold private ranges (RFC 1918, RFC 4193: docker and kind
// networks). A URL that breaks the rule is refused before any socket is
// opened, and every dial is checked again, so no redirect or environment
// proxy can send traffic elsewhere (redirects are not followed, proxies are
// not used).
//
// # Bounds
//
// Run stops by itself at Options.Duration or after Options.MaxRequests,
// whichever comes first, or when its context is done. No request starts
// after that; requests in flight end within Options.Timeout, so Run returns
// within Duration + Timeout. At most Options.Workers requests are in
// flight: a pacing slot that finds them all busy is counted in
// Result.Skipped, not queued, so a stall never turns into a burst.
//
// # Connections
//
// A share of the requests (Options.KeepAliveFraction, interleaved evenly)
// goes through a keep-alive Transport, the rest through one that opens a new
// TCP connection per request, because a rollout fails the two differently:
// new connections are refused or reset at connect, requests on an open
// connection are reset when its target goes away. The probe does its own
// retry decision, not Go's Transport's, which would resend an idempotent
// request whose reused connection failed in any way and so hide the resets
// that other clients see. The one case resent, once, on a new connection, is
// the one every HTTP client resends (RFC 9112 §9.3.1): the server closed the
// reused keep-alive connection in an orderly way (FIN) before any byte of a
// response, so it never processed the request — what a server's graceful
// shutdown does to idle connections. Such requests are marked
// Request.Resent and counted in the summary; their outcome is the second
// attempt's. A reset (RST), a timeout, a refused connect or an error after
// the response began is never resent.
//
// # Results
//
// Result.Attribute ties each failure to the latest rollout Event (pod
// terminating, endpoints removed, NLB target unhealthy or draining) at or
// before the time the failure was observed, within a window; FromNLB turns
// the emulator's event log (lab/instruments/nlb) into such events. Result.Timeline
// returns the ok and per-class failure rates per Bucket with the events as
// markers, for the report to plot (lab/instruments/timeline).
package loadprobe
