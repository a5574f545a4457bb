package nlbnet

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab/dockercli"
)

const (
	liveNetwork = "nodelab-nlbnet-test"
	liveLab     = "nlbnet-test"
)

// liveImages are tried in order: the lab's node image, or the base image it
// is built from (both have sleep and iproute2).
var liveImages = []string{"nodelab.local/kind-node:v1.37.1", "nodelab.local/kind-base:bookworm"}

// liveSetup skips unless the live test was asked for and can run, and
// returns a local image and a fresh docker network removed at cleanup.
func liveSetup(t *testing.T) (ctx context.Context, image string, gateway netip.Addr) {
	t.Helper()
	if os.Getenv("NODELAB_NLBNET_LIVE") != "1" {
		t.Skip("live test: set NODELAB_NLBNET_LIVE=1 (needs Docker and root)")
	}
	if os.Geteuid() != 0 {
		t.Skipf("live test needs root to join a container's network namespace (euid %d)", os.Geteuid())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	if _, err := dockercli.Run(ctx, "version", "--format", "{{.Server.Version}}"); err != nil {
		t.Skipf("live test needs a Docker engine (../shared/env/docker-up): %v", err)
	}
	if img := os.Getenv("NODELAB_NLBNET_IMAGE"); img != "" {
		liveImages = []string{img}
	}
	for _, img := range liveImages {
		if _, err := dockercli.Run(ctx, "image", "inspect", "--format", "{{.Id}}", img); err == nil {
			image = img
			break
		}
	}
	if image == "" {
		t.Skipf("live test needs one of the local images %v (docker image inspect found none)", liveImages)
	}
	// A network left by a crashed run of this test.
	_, _ = dockercli.Run(ctx, "network", "rm", liveNetwork)
	if _, err := dockercli.Run(ctx, "network", "create", "--label", "nodelab.dev/test=nlbnet", liveNetwork); err != nil {
		t.Fatalf("create docker network: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
		defer cancel()
		if _, err := dockercli.Run(ctx, "network", "rm", liveNetwork); err != nil {
			t.Errorf("remove docker network %s: %v", liveNetwork, err)
		}
	})
	gw, err := dockercli.Run(ctx, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", liveNetwork)
	if err != nil {
		t.Fatalf("inspect docker network: %v", err)
	}
	for _, f := range strings.Fields(gw) {
		if a, err := netip.ParseAddr(f); err == nil && a.Is4() {
			gateway = a
		}
	}
	if !gateway.IsValid() {
		t.Fatalf("docker network %s has no IPv4 gateway (%q)", liveNetwork, gw)
	}
	return ctx, image, gateway
}

// hostRoutes is the host's IPv4 routing table, every table, without the
// link-state flag (a bridge's route is linkdown while no container is on it).
func hostRoutes(t *testing.T) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		t.Fatalf("ip -4 route show table all: %v", err)
	}
	return strings.ReplaceAll(string(out), " linkdown", "")
}

func containersOf(t *testing.T, ctx context.Context, lab string) []string {
	t.Helper()
	out, err := dockercli.Run(ctx, append([]string{"ps", "-aq", "--no-trunc"}, labelFilters(lab)...)...)
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(out)
}

func TestLiveDialFromDataPlane(t *testing.T) {
	ctx, image, gw := liveSetup(t)
	before := hostRoutes(t)

	route := Route{Prefix: netip.MustParsePrefix("10.98.0.0/24"), Via: gw}
	d, err := Start(ctx, Options{Lab: liveLab, Network: liveNetwork, Image: image, Routes: []Route{route}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Logf("data plane %s: addr %s, pid %d, image %s", d.name, d.Addr(), d.PID(), image)
	if !d.Addr().Is4() || d.PID() <= 0 {
		t.Fatalf("Addr %s, PID %d", d.Addr(), d.PID())
	}
	if ids := containersOf(t, ctx, liveLab); len(ids) != 1 || ids[0] != d.id {
		t.Fatalf("labelled containers %v, want [%s]", ids, d.id)
	}
	if out, err := dockercli.Run(ctx, "exec", d.id, "ip", "route", "show", route.Prefix.String()); err != nil || !strings.Contains(out, "via "+gw.String()) {
		t.Fatalf("route in the container: %q, %v", out, err)
	}

	// A target only the data plane's namespace has: an address on its lo.
	if _, err := dockercli.Run(ctx, "exec", d.id, "ip", "addr", "add", "10.99.0.1/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	ln, err := d.listen("10.99.0.1:0")
	if err != nil {
		t.Fatalf("listen in the data plane: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	target := ln.Addr().String()

	conn, err := d.Dial(ctx, "tcp", target)
	if err != nil {
		t.Fatalf("Dial %s from the data plane: %v", target, err)
	}
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		t.Fatalf("Dial returned %T, want *net.TCPConn", conn)
	}
	if _, err := tc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = tc.CloseWrite()
	_ = tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(tc)
	tc.Close()
	if err != nil || string(got) != "ping" {
		t.Fatalf("echo through the data plane: %q, %v", got, err)
	}

	// The host's routing table knows nothing of the target.
	if c, err := net.DialTimeout("tcp", target, time.Second); err == nil {
		c.Close()
		t.Fatalf("host dial to %s succeeded: the host must not reach the data plane's addresses", target)
	} else {
		t.Logf("host dial to %s fails as it must: %v", target, err)
	}

	// A second Start of the same lab replaces the first container.
	d2, err := Start(ctx, Options{Lab: liveLab, Network: liveNetwork, Image: image})
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if ids := containersOf(t, ctx, liveLab); len(ids) != 1 || ids[0] != d2.id {
		t.Fatalf("after a second Start: labelled containers %v, want only [%s]", ids, d2.id)
	}
	if err := Remove(ctx, liveLab); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if ids := containersOf(t, ctx, liveLab); len(ids) != 0 {
		t.Fatalf("after Remove: labelled containers %v", ids)
	}
	if err := Remove(ctx, liveLab); err != nil {
		t.Fatalf("Remove with nothing to remove: %v", err)
	}
	for _, dp := range []*DataPlane{d2, d2, d} {
		if err := dp.Close(ctx); err != nil {
			t.Fatalf("Close after Remove: %v", err)
		}
	}
	if _, err := d.Dial(ctx, "tcp", target); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial after Close = %v, want net.ErrClosed", err)
	}

	if after := hostRoutes(t); after != before {
		t.Errorf("host routing table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestLiveStartFailureLeavesNothing checks that a route Docker's network
// cannot carry fails Start and removes the container.
func TestLiveStartFailureLeavesNothing(t *testing.T) {
	ctx, image, _ := liveSetup(t)
	bad := Route{Prefix: netip.MustParsePrefix("10.98.0.0/24"), Via: netip.MustParseAddr("10.1.2.3")}
	d, err := Start(ctx, Options{Lab: liveLab, Network: liveNetwork, Image: image, Routes: []Route{bad}})
	if err == nil {
		d.Close(ctx)
		t.Fatal("Start with a via address off the network succeeded")
	}
	t.Logf("Start: %v", err)
	if !strings.Contains(err.Error(), "container removed") || !strings.Contains(err.Error(), "check that 10.1.2.3 is a node IP") {
		t.Errorf("error does not say what happened and what to check: %v", err)
	}
	if ids := containersOf(t, ctx, liveLab); len(ids) != 0 {
		t.Fatalf("containers left after a failed Start: %v", ids)
	}
	if _, err := Start(ctx, Options{Lab: liveLab, Network: liveNetwork, Image: "nodelab.local/no-such-image:v0"}); err == nil || !strings.Contains(err.Error(), "is not local") {
		t.Errorf("Start with a missing image = %v, want a 'not local' error", err)
	}
}
