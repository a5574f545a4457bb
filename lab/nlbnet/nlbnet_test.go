package nlbnet

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{Lab: "lab-x", Image: "img:v1"}.withDefaults()
	if err != nil {
		t.Fatalf("valid options: %v", err)
	}
	if o.Network != "kind" || o.Lifetime != 6*time.Hour || o.Logger == nil {
		t.Errorf("defaults: network %q, lifetime %s, logger %v", o.Network, o.Lifetime, o.Logger)
	}
}

func TestOptionsReportsEveryProblem(t *testing.T) {
	_, err := Options{
		Lab: "Lab_X",
		Routes: []Route{
			{Prefix: netip.MustParsePrefix("10.244.1.0/24")},
			{Prefix: netip.MustParsePrefix("10.244.2.0/24"), Via: netip.MustParseAddr("fc00::2")},
			{Prefix: netip.MustParsePrefix("10.244.3.1/24"), Via: netip.MustParseAddr("172.18.0.3")},
			{Via: netip.MustParseAddr("172.18.0.4")},
		},
		Lifetime: time.Millisecond,
	}.withDefaults()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{`lab name "Lab_X"`, "image: empty", "invalid via", "different IP families", "host bits set (want 10.244.3.0/24)", "route 3: invalid prefix", "lifetime 1ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestRunArgs(t *testing.T) {
	o, err := Options{Lab: "lab-x", Image: "nodelab.local/kind-node:v1.37.1", Lifetime: 90 * time.Minute}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"run", "-d", "--rm", "--pull", "never",
		"--name", "nodelab-lab-x-nlb-dataplane",
		"--label", "nodelab.dev/lab=lab-x", "--label", "nodelab.dev/role=nlb-dataplane",
		"--network", "kind", "--cap-add", "NET_ADMIN", "--entrypoint", "sleep",
		"nodelab.local/kind-node:v1.37.1", "5400"}
	if got := runArgs(o); !slices.Equal(got, want) {
		t.Errorf("runArgs:\n got %q\nwant %q", got, want)
	}
	r := Route{Prefix: netip.MustParsePrefix("10.244.1.0/24"), Via: netip.MustParseAddr("172.18.0.3")}
	if got, want := routeArgs("abc", r), []string{"exec", "abc", "ip", "route", "replace", "10.244.1.0/24", "via", "172.18.0.3"}; !slices.Equal(got, want) {
		t.Errorf("routeArgs: got %q, want %q", got, want)
	}
	if got, want := labelFilters("lab-x"), []string{"--filter", "label=nodelab.dev/lab=lab-x", "--filter", "label=nodelab.dev/role=nlb-dataplane"}; !slices.Equal(got, want) {
		t.Errorf("labelFilters: got %q, want %q", got, want)
	}
}

func TestParseInspect(t *testing.T) {
	pid, addr, err := parseInspect(`4242 {"kind":{"IPAddress":"172.18.0.5","GlobalIPv6Address":"fc00:f853:ccd:e793::5"}}`, "kind")
	if err != nil || pid != 4242 || addr != netip.MustParseAddr("172.18.0.5") {
		t.Errorf("parseInspect = %d, %s, %v", pid, addr, err)
	}
	for _, bad := range []string{
		`0 {"kind":{"IPAddress":"172.18.0.5"}}`,
		`4242 {"bridge":{"IPAddress":"172.17.0.2"}}`,
		`4242 {"kind":{"IPAddress":""}}`,
	} {
		if _, _, err := parseInspect(bad, "kind"); err == nil {
			t.Errorf("parseInspect(%q): want an error", bad)
		}
	}
}

func TestSetnsEPERMSaysWhatToDo(t *testing.T) {
	err := setnsError(unix.EPERM)
	if !errors.Is(err, ErrNeedRoot) || !strings.Contains(err.Error(), "run as root or use instance targets") {
		t.Errorf("setnsError(EPERM) = %v", err)
	}
	if errors.Is(setnsError(unix.EINVAL), ErrNeedRoot) {
		t.Error("EINVAL is not a permission problem")
	}
}

func TestDialRefuses(t *testing.T) {
	d := &DataPlane{name: "nodelab-x-nlb-dataplane", nsFD: -1}
	ctx := t.Context()
	for _, c := range []struct{ network, addr, want string }{
		{"udp", "10.244.1.5:80", "only TCP"},
		{"tcp", "web.default.svc:80", "want an IP:port"},
		{"tcp", "10.244.1.5:80", net.ErrClosed.Error()},
	} {
		if _, err := d.Dial(ctx, c.network, c.addr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Dial(%s, %s) = %v, want %q", c.network, c.addr, err, c.want)
		}
	}
}

// TestCloseIdempotent checks that a closed data plane is not removed twice.
func TestCloseIdempotent(t *testing.T) {
	d := &DataPlane{name: "n", nsFD: -1, removed: true}
	if err := d.Close(t.Context()); err != nil {
		t.Errorf("Close of a removed data plane: %v", err)
	}
}
