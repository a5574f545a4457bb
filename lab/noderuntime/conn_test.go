package noderuntime

import (
	"context"
	"io"
	"strings"
	"testing"

	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// localNode runs the given command on this host instead of socat.
type localNode struct{ name, cmd string }

func (n localNode) String() string { return n.name }
func (n localNode) CommandContext(ctx context.Context, _ string, _ ...string) kindexec.Cmd {
	return kindexec.CommandContext(ctx, "sh", "-c", n.cmd)
}

func TestExecConnCarriesBytesBothWays(t *testing.T) {
	c, err := dialExec(localNode{name: "n1", cmd: "cat"}, DefaultSocket, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v; want ping", buf, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != "node/n1" {
		t.Errorf("RemoteAddr = %s", c.RemoteAddr())
	}
}

func TestExecConnReportsWhyTheCommandFailed(t *testing.T) {
	var exit error
	done := make(chan struct{})
	c, err := dialExec(localNode{name: "n1", cmd: "echo 'socat: not found' >&2; exit 127"}, DefaultSocket, func(err error) { exit = err; close(done) })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	_, err = io.ReadAll(c)
	<-done
	for _, e := range []error{err, exit} {
		if e == nil || !strings.Contains(e.Error(), "socat: not found") || !strings.Contains(e.Error(), "node n1") {
			t.Errorf("error = %v, want the node and socat's stderr", e)
		}
	}
}
