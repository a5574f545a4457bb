package noderuntime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nodelab/nodelab/lab/nodeexec"
)

// execConn is a net.Conn over a command's standard input and output: the
// bytes written go to the command's stdin, its stdout is what is read. The
// command is `socat - UNIX-CONNECT:<socket>` on the node, so the gRPC client
// in this process talks to the runtime's socket on the node through the
// node-access layer (docker exec -i, or the node agent's exec stream).
type execConn struct {
	node   string
	stdinW *io.PipeWriter
	outR   *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// dialExec starts socat on node and returns the connection. The command
// lives until Close (or until the runtime closes the socket), not until ctx
// ends: gRPC dials with a short-lived context.
func dialExec(node nodeexec.Node, socket string) (net.Conn, error) {
	runCtx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &execConn{node: node.String(), stdinW: inW, outR: outR, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var stderr bytes.Buffer
		err := node.CommandContext(runCtx, "socat", "-", "UNIX-CONNECT:"+socket).
			SetStdin(inR).SetStdout(outW).SetStderr(&stderr).Run()
		if err == nil {
			err = io.EOF
		} else if msg := strings.TrimSpace(stderr.String()); msg != "" {
			err = fmt.Errorf("socat to %s on node %s: %w: %s", socket, c.node, err, msg)
		} else {
			err = fmt.Errorf("socat to %s on node %s: %w", socket, c.node, err)
		}
		_ = outW.CloseWithError(err)
		_ = inR.CloseWithError(err)
	}()
	return c, nil
}

func (c *execConn) Read(p []byte) (int, error)  { return c.outR.Read(p) }
func (c *execConn) Write(p []byte) (int, error) { return c.stdinW.Write(p) }

// Close ends the stream: stdin is closed (socat then exits) and the command
// is cancelled; it waits for the command to end.
func (c *execConn) Close() error {
	c.once.Do(func() {
		_ = c.stdinW.Close()
		c.cancel()
		_ = c.outR.Close()
		<-c.done
	})
	return nil
}

type execAddr string

func (a execAddr) Network() string { return "exec" }
func (a execAddr) String() string  { return string(a) }

func (c *execConn) LocalAddr() net.Addr  { return execAddr("nodelab") }
func (c *execConn) RemoteAddr() net.Addr { return execAddr("node/" + c.node) }

// errNoDeadlines: the stream is a pipe to a remote command; gRPC's HTTP/2
// transport does not set deadlines on its connection (its own keepalives
// and contexts bound every call), so none are needed.
var errNoDeadlines = errors.New("noderuntime: deadlines are not supported on an exec stream")

func (c *execConn) SetDeadline(time.Time) error      { return errNoDeadlines }
func (c *execConn) SetReadDeadline(time.Time) error  { return errNoDeadlines }
func (c *execConn) SetWriteDeadline(time.Time) error { return errNoDeadlines }
