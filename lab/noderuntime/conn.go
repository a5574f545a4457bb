package noderuntime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
//
// Both ends are OS pipes, not io.Pipes: a local command (docker exec) then
// gets the stdin descriptor itself, so its Run returns as soon as it exits
// (no copy goroutine waits on a stdin nobody closes), and a Read sees the
// end once Run returned. (kind's LocalCmd copies stdout through a
// MultiWriter that also keeps a copy for its error messages: a connection
// holds what containerd sent it, kilobytes for the calls nodelab makes.)
type execConn struct {
	node   string
	stdinW *os.File
	outR   *os.File
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	exitErr error
}

// dialExec starts socat on node and returns the connection. The command
// lives until Close (or until the runtime closes the socket), not until a
// dial context ends: gRPC dials with a short-lived context. onExit, when
// not nil, gets how socat ended (io.EOF for a clean exit).
func dialExec(node nodeexec.Node, socket string, onExit func(error)) (net.Conn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe for socat on node %s: %w", node, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_ = inR.Close()
		_ = inW.Close()
		return nil, fmt.Errorf("pipe for socat on node %s: %w", node, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c := &execConn{node: node.String(), stdinW: inW, outR: outR, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		var stderr bytes.Buffer
		err := node.CommandContext(runCtx, "socat", "-", "UNIX-CONNECT:"+socket).
			SetStdin(inR).SetStdout(outW).SetStderr(&stderr).Run()
		switch msg := strings.TrimSpace(stderr.String()); {
		case err == nil:
			err = io.EOF
		case msg != "":
			err = fmt.Errorf("socat to %s on node %s: %w: %s", socket, c.node, err, msg)
		default:
			err = fmt.Errorf("socat to %s on node %s: %w", socket, c.node, err)
		}
		c.mu.Lock()
		c.exitErr = err
		c.mu.Unlock()
		if onExit != nil {
			onExit(err)
		}
		_ = outW.Close()
		_ = inR.Close()
	}()
	return c, nil
}

// Read reads what socat wrote; at its end, the error says how socat ended.
func (c *execConn) Read(p []byte) (int, error) {
	n, err := c.outR.Read(p)
	if errors.Is(err, io.EOF) {
		c.mu.Lock()
		if c.exitErr != nil {
			err = c.exitErr
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *execConn) Write(p []byte) (int, error) { return c.stdinW.Write(p) }

// Close ends the stream: stdin is closed (socat then exits) and the command
// is cancelled; it waits for the command to end.
func (c *execConn) Close() error {
	c.once.Do(func() {
		_ = c.stdinW.Close()
		c.cancel()
		<-c.done
		_ = c.outR.Close()
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
