// Package podexec runs a command in a pod's container the way `kubectl
// exec` does (client-go's remotecommand over the API server: WebSocket
// first, SPDY as the fallback), without shelling out to kubectl. It is for
// reading what a process inside the container sees (/proc/meminfo, its own
// cgroup files), which is not always what the node sees.
package podexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// Target names a container.
type Target struct {
	Namespace, Pod, Container string
}

// String is namespace/pod/container.
func (t Target) String() string { return t.Namespace + "/" + t.Pod + "/" + t.Container }

// Error is a command that ran in the container and failed.
type Error struct {
	Target  Target
	Command []string
	Stderr  string
	Err     error
}

// Error says which command failed where, with its standard error.
func (e *Error) Error() string {
	msg := fmt.Sprintf("exec %q in %s: %v", strings.Join(e.Command, " "), e.Target, e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

// Unwrap returns the underlying error (an exit code is a
// k8s.io/client-go/util/exec.CodeExitError).
func (e *Error) Unwrap() error { return e.Err }

// Run runs command in the container and returns its standard output.
func Run(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, t Target, command ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	if err := Stream(ctx, cfg, cs, t, Streams{Stdout: &stdout, Stderr: &stderr}, command...); err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Stderr = stderr.String()
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// Streams are the command's standard streams; nil ones are not attached.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Stream runs command in the container with the given streams. A command
// that ran and failed is an *Error (its Stderr is empty: the caller holds
// the stream).
func Stream(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, t Target, s Streams, command ...string) error {
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(t.Namespace).Name(t.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: t.Container, Command: command,
			Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		return fmt.Errorf("exec in %s: websocket executor: %w", t, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return fmt.Errorf("exec in %s: spdy executor: %w", t, err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool { return true })
	if err != nil {
		return fmt.Errorf("exec in %s: %w", t, err)
	}
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr}); err != nil {
		return &Error{Target: t, Command: command, Err: err}
	}
	return nil
}
