package nodeexec

import (
	"context"
	"fmt"
	"io"

	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// localNode runs commands on the test host, the way a kind node runs them
// in its container.
type localNode struct{}

func (localNode) String() string { return "local" }

func (localNode) CommandContext(ctx context.Context, cmd string, args ...string) kindexec.Cmd {
	return kindexec.CommandContext(ctx, cmd, args...)
}

// scriptedNode answers commands with a function, for tests that need a
// node's view (cgroup v2, a pod's cgroup) the host does not have.
type scriptedNode struct {
	answer func(cmd string, args []string) (stdout, stderr string, err error)
	calls  [][]string
}

func (n *scriptedNode) String() string { return "scripted" }

func (n *scriptedNode) CommandContext(_ context.Context, cmd string, args ...string) kindexec.Cmd {
	n.calls = append(n.calls, append([]string{cmd}, args...))
	return &scriptedCmd{node: n, cmd: cmd, args: args}
}

type scriptedCmd struct {
	node           *scriptedNode
	cmd            string
	args           []string
	stdout, stderr io.Writer
}

func (c *scriptedCmd) Run() error {
	out, errOut, err := c.node.answer(c.cmd, c.args)
	if c.stdout != nil {
		fmt.Fprint(c.stdout, out)
	}
	if c.stderr != nil {
		fmt.Fprint(c.stderr, errOut)
	}
	if err != nil {
		return &kindexec.RunError{Command: append([]string{"docker", "exec", c.cmd}, c.args...), Output: []byte(out + errOut), Inner: err}
	}
	return nil
}

func (c *scriptedCmd) SetEnv(...string) kindexec.Cmd      { return c }
func (c *scriptedCmd) SetStdin(io.Reader) kindexec.Cmd    { return c }
func (c *scriptedCmd) SetStdout(w io.Writer) kindexec.Cmd { c.stdout = w; return c }
func (c *scriptedCmd) SetStderr(w io.Writer) kindexec.Cmd { c.stderr = w; return c }
