package nlb

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAWSDefaultsAreTheDocumentedValues(t *testing.T) {
	c := AWSDefaults()
	hc := c.HealthCheck
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"protocol", hc.Protocol, ProtocolTCP},
		{"port", hc.Port, uint16(0)},
		{"interval", hc.Interval, 30 * time.Second},
		{"timeout", hc.Timeout, 10 * time.Second},
		{"healthy threshold", hc.HealthyThreshold, 5},
		{"unhealthy threshold", hc.UnhealthyThreshold, 2},
		{"registration propagation", c.RegistrationPropagation, 180 * time.Second},
		{"deregistration propagation", c.DeregistrationPropagation, 180 * time.Second},
		{"deregistration delay", c.DeregistrationDelay, 300 * time.Second},
		{"termination on deregistration", c.TerminateOnDeregistration, false},
		{"time scale", c.TimeScale, 1.0},
	} {
		if f.got != f.want {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("AWSDefaults do not validate: %v", err)
	}

	c.UseHealthCheckNodePort(31234)
	hc = c.HealthCheck
	if c.TargetType != TargetTypeInstance || hc.Protocol != ProtocolHTTP || hc.Port != 31234 || hc.Path != "/healthz" || hc.Timeout != 6*time.Second {
		t.Errorf("UseHealthCheckNodePort: %+v, %+v", c.TargetType, hc)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := AWSDefaults()
	c.Listen = "0.0.0.0:80"
	c.TargetType = "lambda"
	c.HealthCheck.Protocol = "UDP"
	c.HealthCheck.Interval = 0
	c.HealthCheck.HealthyThreshold = 0
	c.DeregistrationDelay = -time.Second
	c.TimeScale = -1
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{
		"binds every interface", `target type "lambda"`, `protocol "UDP"`, "health check interval is 0s",
		"healthy threshold is 0", "deregistration delay is -1s", "time scale is -1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestListenerOnlyOnLoopback(t *testing.T) {
	docker := netip.MustParseAddr("192.0.2.10") // TEST-NET-1 stands in for the lab's docker network address
	for _, tc := range []struct {
		listen  string
		allow   []netip.Addr
		refused string // "" when accepted
	}{
		{listen: "127.0.0.1:0"},
		{listen: "127.0.0.9:0"},
		{listen: "[::1]:0"},
		{listen: "0.0.0.0:0", refused: "binds every interface"},
		{listen: "[::]:0", refused: "binds every interface"},
		{listen: ":0", refused: "IP literal"},
		{listen: "localhost:0", refused: "IP literal"},
		{listen: "192.0.2.10:0", refused: "not loopback"},
		{listen: "192.0.2.10:0", allow: []netip.Addr{docker}},
		{listen: "192.0.2.11:0", allow: []netip.Addr{docker}, refused: "not loopback"},
		{listen: "0.0.0.0:0", allow: []netip.Addr{netip.IPv4Unspecified()}, refused: "binds every interface"},
	} {
		c := AWSDefaults()
		c.Listen, c.AllowListen = tc.listen, tc.allow
		err := c.Validate()
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s allow %v: refused: %v", tc.listen, tc.allow, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s allow %v: error %v, want one with %q", tc.listen, tc.allow, err, tc.refused)
		}
	}

	noLeaks(t)
	c := AWSDefaults()
	c.Listen = "0.0.0.0:0"
	if n, err := Start(t.Context(), c); err == nil {
		_ = n.Close()
		t.Fatal("Start listened on 0.0.0.0")
	}
	l := startLab(t, testConfig())
	if a := l.nlb.Addr().Addr(); !a.IsLoopback() {
		t.Fatalf("default listener on %s, want loopback", a)
	}
}

func TestTimeScaleDividesEveryDuration(t *testing.T) {
	c := AWSDefaults()
	c.TimeScale = 60
	s := c.Scaled()
	for _, f := range []struct {
		name      string
		got, want time.Duration
	}{
		{"interval", s.HealthCheck.Interval, 500 * time.Millisecond},
		{"timeout (floor)", s.HealthCheck.Timeout, time.Second},
		{"registration propagation", s.RegistrationPropagation, 3 * time.Second},
		{"deregistration propagation", s.DeregistrationPropagation, 3 * time.Second},
		{"deregistration delay", s.DeregistrationDelay, 5 * time.Second},
		{"connect timeout (floor: one SYN retransmission)", s.ConnectTimeout, 3 * time.Second},
	} {
		if f.got != f.want {
			t.Errorf("scaled %s = %v, want %v", f.name, f.got, f.want)
		}
	}
	c.HealthCheck.Timeout = 120 * time.Second // AWS's maximum
	c.ConnectTimeout = 100 * time.Millisecond // below the floor already
	if got := c.Scaled(); got.HealthCheck.Timeout != 2*time.Second || got.ConnectTimeout != 100*time.Millisecond {
		t.Errorf("scaled timeouts %v and %v, want 2s and 100ms", got.HealthCheck.Timeout, got.ConnectTimeout)
	}
	if s.TimeScale != 1 {
		t.Errorf("scaled TimeScale = %v, want 1", s.TimeScale)
	}

	// The running NLB uses the scaled delays: registration takes effect at
	// 180 s / 60 = 3 s, not a nanosecond earlier.
	noLeaks(t)
	be := startBackend(t, "127.0.0.2", "a", nil)
	l := startLab(t, c)
	l.register(be.addr)
	l.clk.Advance(3*time.Second - time.Nanosecond)
	if r := l.stats(be.addr).Reason; r != ReasonRegistrationInProgress {
		t.Fatalf("before 3 s: reason %s, want %s", r, ReasonRegistrationInProgress)
	}
	l.clk.Advance(time.Nanosecond)
	if r := l.stats(be.addr).Reason; r != ReasonInitialHealthChecking {
		t.Fatalf("at 3 s: reason %s, want %s", r, ReasonInitialHealthChecking)
	}
	l.tick(be.addr) // the first check follows one scaled interval later
}
