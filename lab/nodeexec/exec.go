// Package nodeexec runs commands and reads files inside kind node
// containers, and reads typed cgroup v1/v2 memory statistics from them,
// saying which files each number came from.
//
// Everything takes a Node, an interface that kind's nodes.Node satisfies,
// so tests can run the same code against a local command runner.
package nodeexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// Node is what this package needs of a kind node: its name and a way to run
// a command in it. sigs.k8s.io/kind/pkg/cluster/nodes.Node satisfies it.
type Node interface {
	String() string
	CommandContext(ctx context.Context, cmd string, args ...string) kindexec.Cmd
}

// ExecError is a command that failed inside a node.
type ExecError struct {
	// Node is the node's name.
	Node string
	// Command is the command and its arguments.
	Command []string
	// Stderr is what the command wrote to its standard error.
	Stderr string
	// Err is the underlying error (usually an exit status).
	Err error
}

// Error says which command failed on which node, and how.
func (e *ExecError) Error() string {
	msg := fmt.Sprintf("run %s on node %s: %v", kindexec.PrettyCommand(e.Command[0], e.Command[1:]...), e.Node, e.Err)
	if s := bytes.TrimSpace([]byte(e.Stderr)); len(s) > 0 {
		msg += ": " + string(s)
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ExecError) Unwrap() error { return e.Err }

// Run runs a command in the node and returns its standard output. A failure
// is an *ExecError carrying the command and its standard error.
func Run(ctx context.Context, node Node, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	err := node.CommandContext(ctx, name, args...).SetStdout(&stdout).SetStderr(&stderr).Run()
	if err == nil {
		return stdout.String(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		err = ctxErr
	} else if runErr := (*kindexec.RunError)(nil); errors.As(err, &runErr) && runErr.Inner != nil {
		// kind's RunError repeats the whole docker command line; the inner
		// error (exit status) is what matters next to our own command.
		err = runErr.Inner
	}
	return stdout.String(), &ExecError{
		Node:    node.String(),
		Command: append([]string{name}, args...),
		Stderr:  stderr.String(),
		Err:     err,
	}
}
