package nlb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// TargetType says what a target address is, as the target group attribute
// TargetType does on AWS.
type TargetType string

const (
	// TargetTypeInstance targets are node IP:NodePort. With
	// externalTrafficPolicy Local the health check is an HTTP GET /healthz on
	// the Service's healthCheckNodePort (see UseHealthCheckNodePort).
	TargetTypeInstance TargetType = "instance"
	// TargetTypeIP targets are pod IP:port, health-checked over TCP by default.
	TargetTypeIP TargetType = "ip"
)

// Protocol is a health-check protocol.
type Protocol string

const (
	// ProtocolTCP passes when a TCP connection to the target opens in time;
	// the NLB default.
	ProtocolTCP Protocol = "TCP"
	// ProtocolHTTP passes when GET Path answers 200 in time (kube-proxy's
	// /healthz answers 200 or 503).
	ProtocolHTTP Protocol = "HTTP"
)

// HealthCheck configures the active health check of every target.
type HealthCheck struct {
	// Protocol is TCP or HTTP.
	Protocol Protocol
	// Port is the port checked on the target's IP; 0 is AWS's "traffic-port",
	// the target's own port.
	Port uint16
	// Path is the HTTP GET path; only for ProtocolHTTP. Empty means "/".
	Path string
	// Interval between two checks of one target. The first check runs one
	// Interval after registration completes.
	Interval time.Duration
	// Timeout of one check (real time, scaled by TimeScale).
	Timeout time.Duration
	// HealthyThreshold consecutive passes make an initial or unhealthy target healthy.
	HealthyThreshold int
	// UnhealthyThreshold consecutive failures make a target unhealthy.
	UnhealthyThreshold int
}

// Config is the options struct of an NLB: one listener and one target group.
// Start it from AWSDefaults, change what the scenario needs and set TimeScale.
type Config struct {
	// Listen is the listener address, an IP literal and a port ("127.0.0.1:0").
	// It must be a loopback address unless its IP is in AllowListen.
	Listen string
	// AllowListen lists non-loopback IPs the listener may bind. Only for the
	// lab's own docker network address; never a wildcard address.
	AllowListen []netip.Addr
	// TargetType is instance (node IP:NodePort) or ip (pod IP:port).
	TargetType TargetType
	// HealthCheck is the target group's active health check.
	HealthCheck HealthCheck
	// RegistrationPropagation is how long Register takes before the target
	// starts being health-checked.
	RegistrationPropagation time.Duration
	// DeregistrationPropagation is how long Deregister takes before the
	// target is draining; until then it still gets new flows.
	DeregistrationPropagation time.Duration
	// DeregistrationDelay is how long a draining target keeps its flows
	// (deregistration_delay.timeout_seconds).
	DeregistrationDelay time.Duration
	// TerminateOnDeregistration resets the flows still open when the
	// deregistration delay ends (deregistration_delay.connection_termination.enabled).
	// When false they go on until either end closes them.
	TerminateOnDeregistration bool
	// TerminateOnUnhealthy resets a target's flows when it turns unhealthy
	// (target_health_state.unhealthy.connection_termination.enabled; AWS's
	// default, true, is what AWSDefaults sets). When false, the flows of an
	// unhealthy target go on, for UnhealthyDrainingInterval if it is set
	// (target_health_state.unhealthy.draining_interval_seconds, default 0:
	// until either end closes them), and new flows still avoid it.
	TerminateOnUnhealthy bool
	// UnhealthyDrainingInterval bounds how long the flows of an unhealthy
	// target go on when TerminateOnUnhealthy is off; 0 means no bound.
	UnhealthyDrainingInterval time.Duration
	// ConnectTimeout bounds the dial to a target.
	ConnectTimeout time.Duration
	// TimeScale divides every duration above, so that CI runs in seconds what
	// AWS does in minutes: 60 turns a 30 s interval into 500 ms. The
	// health-check timeout stops at 1 s, the connect timeout at 3 s (see
	// Scaled). 0 means 1.
	TimeScale float64
	// Dial opens connections to targets, for flows and health checks. Nil
	// means a net.Dialer without TCP keep-alives (AWS sends none). Inject one to reach pod IPs from inside a network
	// namespace or container; return *net.TCPConn where possible so that the
	// data path keeps using splice.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Clock drives every delay and ticker; nil means RealClock.
	Clock Clock
	// Logger receives state changes at Info and flow errors at Debug; nil
	// discards.
	Logger *slog.Logger
}

// AWSDefaults returns the documented, unscaled AWS defaults for an NLB TCP
// target group of instance targets (sources: shared/notes/scenario-facts.md §3c):
//
//   - health check TCP on the traffic port, interval 30 s, healthy threshold 5,
//     unhealthy threshold 2 (CreateTargetGroup, AWS SDK for Kotlin docs
//     healthy-threshold-count and unhealthy-threshold-count; interval from the
//     landing-zone-accelerator TargetGroupHealthCheckConfig typedoc; "NLB
//     health checks default to TCP");
//   - health-check timeout 10 s for TCP (6 s for HTTP) (CreateTargetGroup,
//     AWS SDK for Kotlin docs health-check-timeout-seconds);
//   - registration and deregistration propagation 180 s each, the low end of
//     the "3–5 min" AWS support quoted in aws-load-balancer-controller#1834;
//   - deregistration delay 300 s (API_TargetGroupAttribute
//     deregistration_delay.timeout_seconds), connection termination off;
//   - connections to unhealthy targets terminated
//     (target_health_state.unhealthy.connection_termination.enabled, default
//     true; draining_interval_seconds 0);
//   - connect timeout 10 s (not an AWS number: a bound for a dead target).
func AWSDefaults() Config {
	return Config{
		Listen:     "127.0.0.1:0",
		TargetType: TargetTypeInstance,
		HealthCheck: HealthCheck{
			Protocol:           ProtocolTCP,
			Interval:           awsHealthCheckInterval,
			Timeout:            awsHealthCheckTimeoutTCP,
			HealthyThreshold:   5,
			UnhealthyThreshold: 2,
		},
		RegistrationPropagation:   awsRegistrationPropagation,
		DeregistrationPropagation: awsDeregistrationPropagation,
		DeregistrationDelay:       awsDeregistrationDelay,
		TerminateOnUnhealthy:      true,
		ConnectTimeout:            defaultConnectTimeout,
		TimeScale:                 1,
	}
}

// UseHealthCheckNodePort sets up what the AWS load balancer controller does
// for a Service with externalTrafficPolicy Local: instance targets,
// HTTP GET /healthz on the Service's healthCheckNodePort (kube-proxy answers
// 200 when the node has a local endpoint, else 503) with the HTTP timeout of
// 6 s. Thresholds and interval stay as they are.
func (c *Config) UseHealthCheckNodePort(port uint16) {
	c.TargetType = TargetTypeInstance
	c.HealthCheck.Protocol = ProtocolHTTP
	c.HealthCheck.Port = port
	c.HealthCheck.Path = "/healthz"
	c.HealthCheck.Timeout = awsHealthCheckTimeoutHTTP
}

// Scaled returns the configuration the NLB runs with: every duration divided
// by TimeScale (the health-check timeout not below 1 s and the connect
// timeout not below 3 s, or their
// unscaled value when smaller), TimeScale set to 1, and nil fields filled
// with defaults.
func (c Config) Scaled() Config {
	s := c.TimeScale
	if s == 0 {
		s = 1
	}
	div := func(d time.Duration) time.Duration { return time.Duration(float64(d) / s) }
	// Network timeouts shrink too, but not below minScaledTimeout: a busy
	// kind node answers in milliseconds whatever the scale.
	timeout := func(d, floor time.Duration) time.Duration { return max(div(d), min(d, floor)) }
	c.HealthCheck.Interval = div(c.HealthCheck.Interval)
	c.HealthCheck.Timeout = timeout(c.HealthCheck.Timeout, minScaledTimeout)
	c.RegistrationPropagation = div(c.RegistrationPropagation)
	c.DeregistrationPropagation = div(c.DeregistrationPropagation)
	c.DeregistrationDelay = div(c.DeregistrationDelay)
	c.UnhealthyDrainingInterval = div(c.UnhealthyDrainingInterval)
	c.ConnectTimeout = timeout(c.ConnectTimeout, minScaledConnectTimeout)
	c.TimeScale = 1
	if c.HealthCheck.Protocol == ProtocolHTTP && c.HealthCheck.Path == "" {
		c.HealthCheck.Path = "/"
	}
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.validateListen(); err != nil {
		errs = append(errs, err)
	}
	switch c.TargetType {
	case TargetTypeInstance, TargetTypeIP:
	default:
		errs = append(errs, fmt.Errorf("target type %q: use %q or %q", c.TargetType, TargetTypeInstance, TargetTypeIP))
	}
	hc := c.HealthCheck
	switch hc.Protocol {
	case ProtocolTCP:
		if hc.Path != "" {
			errs = append(errs, fmt.Errorf("health check path %q is set for a TCP health check: use HTTP or drop the path", hc.Path))
		}
	case ProtocolHTTP:
		if hc.Path != "" && !strings.HasPrefix(hc.Path, "/") {
			errs = append(errs, fmt.Errorf("health check path %q must start with /", hc.Path))
		}
	default:
		errs = append(errs, fmt.Errorf("health check protocol %q: use %q or %q", hc.Protocol, ProtocolTCP, ProtocolHTTP))
	}
	positive := map[string]time.Duration{
		"health check interval": hc.Interval,
		"health check timeout":  hc.Timeout,
		"connect timeout":       c.ConnectTimeout,
	}
	nonNegative := map[string]time.Duration{
		"registration propagation":    c.RegistrationPropagation,
		"deregistration propagation":  c.DeregistrationPropagation,
		"deregistration delay":        c.DeregistrationDelay,
		"unhealthy draining interval": c.UnhealthyDrainingInterval,
	}
	for _, name := range slices.Sorted(maps.Keys(positive)) {
		if positive[name] <= 0 {
			errs = append(errs, fmt.Errorf("%s is %v: it must be positive", name, positive[name]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(nonNegative)) {
		if nonNegative[name] < 0 {
			errs = append(errs, fmt.Errorf("%s is %v: it must not be negative", name, nonNegative[name]))
		}
	}
	if hc.HealthyThreshold < 1 {
		errs = append(errs, fmt.Errorf("healthy threshold is %d: it must be at least 1 (AWS allows 2–10)", hc.HealthyThreshold))
	}
	if hc.UnhealthyThreshold < 1 {
		errs = append(errs, fmt.Errorf("unhealthy threshold is %d: it must be at least 1 (AWS allows 2–10)", hc.UnhealthyThreshold))
	}
	if c.TerminateOnUnhealthy && c.UnhealthyDrainingInterval > 0 {
		errs = append(errs, fmt.Errorf("unhealthy draining interval %v is set with unhealthy connection termination on: AWS allows it only when termination is off", c.UnhealthyDrainingInterval))
	}
	if !(c.TimeScale >= 0) || math.IsInf(c.TimeScale, 0) {
		errs = append(errs, fmt.Errorf("time scale is %v: it must be positive (or 0 for 1)", c.TimeScale))
	}
	return errors.Join(errs...)
}

func (c Config) validateListen() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", c.Listen, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("listen address %q: the host must be an IP literal such as 127.0.0.1", c.Listen)
	}
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return nil
	case ip.IsUnspecified():
		return fmt.Errorf("listen address %q binds every interface: use 127.0.0.1, or the lab's docker network address listed in AllowListen", c.Listen)
	case slices.Contains(c.AllowListen, ip):
		return nil
	}
	return fmt.Errorf("listen address %q is not loopback: add %s to AllowListen only if it is the lab's own docker network address", c.Listen, ip)
}
