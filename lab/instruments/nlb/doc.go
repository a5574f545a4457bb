// Package nlb is an L4 TCP proxy that behaves like an AWS Network Load
// Balancer target group, so that the ingress-rollout pitfall reproduces in a
// kind lab for the reasons it happens on AWS: the load balancer learns about
// new and removed targets minutes late and judges them by its own health
// checks, not by pod readiness.
//
// # AWS behaviours modelled
//
// Numbers and sources are in shared/notes/scenario-facts.md §3c; AWSDefaults
// returns them unscaled and Config.TimeScale divides every one of them.
//
//   - Registration propagation: Register takes effect after
//     RegistrationPropagation (AWS support: 3–5 min, aws-load-balancer-controller#1834;
//     NLB docs: "It can take a few minutes for the registration process to
//     complete and health checks to start"). Until then the target is
//     initial (Elb.RegistrationInProgress) and gets no flow.
//   - Health checks: TCP connect or HTTP GET (200 passes) every Interval,
//     the first one Interval after registration took effect. HealthyThreshold
//     consecutive passes make a target healthy, UnhealthyThreshold
//     consecutive failures unhealthy (defaults 30 s, 5, 2: CreateTargetGroup
//     docs). With externalTrafficPolicy Local instance targets are checked
//     with GET /healthz on the healthCheckNodePort (Config.UseHealthCheckNodePort).
//   - Routing: a flow hash of the connection's addresses and ports picks one
//     healthy target; the choice holds for the life of the flow.
//   - Unhealthy targets: their client flows get a TCP RST, unless the NLB is
//     failing open (NLB health-check docs).
//   - Fail-open: when no target is healthy, new flows go to every registered,
//     non-draining target (NLB "modify target group health settings" docs).
//   - Deregistration: Deregister takes effect after DeregistrationPropagation
//     (AWS support: 3–5 min), during which the target still gets new flows;
//     then it is draining: no new flows, existing ones go on for
//     DeregistrationDelay (deregistration_delay.timeout_seconds, default
//     300 s), then they are reset if TerminateOnDeregistration is set, and
//     the target is unused. A draining target with no flow, or whose last
//     flow ends, is unused at once (EKS best practices, quoted in
//     aws-load-balancer-controller#3270).
//
// Every state change is an Event (Time, Target, From, To, Reason, Detail)
// with AWS's reason codes where AWS has one; Snapshot gives per-target flow,
// byte and reset counters. All timers and tickers go through Config.Clock,
// so tests drive the minutes with a fake clock.
//
// # Differences from AWS
//
//   - The proxy terminates TCP: a client's connect succeeds before a target is
//     chosen, and a failed dial to the target is a RST after the handshake.
//     Targets see the proxy's address, not the client's.
//   - AWS's API already reports draining while deregistration propagates;
//     here the state stays until the data plane drains, and the event log
//     records the request as nlb.DeregistrationRequested.
//   - Not modelled: passive health checks, the 350 s TCP idle timeout,
//     availability zones and cross-zone balancing, the minimum healthy target
//     count of DNS/target-group failover, UDP and TLS listeners.
//
// # Data path
//
// Each flow is two io.Copy calls between *net.TCPConn values, which the Go
// runtime turns into splice(2) on Linux; an end of stream is passed on with
// CloseWrite (half-close) and an error resets both sides. Config.Dial
// replaces the dialer, for instance to reach pod IPs from a network namespace.
//
// # Benchmark against HAProxy
//
// TestCompareWithHAProxy runs HAProxy (Debian's haproxy, TCP mode, default
// threads, no splice) and this NLB, each in a process of its own, in front of
// the same loopback backend, and interleaves the same bounded load on both:
// uploads for throughput, new connection per request and requests on an open
// flow for latency. It prints throughput and p50/p99 (and added-latency)
// ratios to HAProxy and fails below 0.8× its throughput or above 1.2× its
// p99. It needs NODELAB_NLB_BENCH=1 and skips otherwise, or without haproxy:
//
//	NODELAB_NLB_BENCH=1 go test ./lab/instruments/nlb -run TestCompareWithHAProxy -count=1 -v
package nlb
