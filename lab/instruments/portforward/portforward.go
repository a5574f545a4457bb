// Package portforward forwards local loopback ports to pod ports the way
// `kubectl port-forward` does (client-go's tools/portforward over the API
// server: WebSocket first, SPDY as the fallback), without shelling out to
// kubectl. Local ports are chosen by the kernel, so "port in use" cannot
// happen, and every forward is tracked until it is closed, so tests can
// prove none is left behind (Open).
package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream" //nolint:staticcheck // client-go's NewOnAddresses and NewFallbackDialer still take this package's Dialer
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// open counts forwards started and not yet closed.
var open atomic.Int64

// Open returns how many forwards of this process are not closed.
func Open() int { return int(open.Load()) }

// Forward is one running port-forward from 127.0.0.1:LocalPort to a pod port.
type Forward struct {
	// Namespace and Pod name the target; RemotePort is its port.
	Namespace, Pod string
	RemotePort     int
	// LocalPort is the kernel-chosen loopback port.
	LocalPort int

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	err       error // ForwardPorts' result, set before done closes
}

// Addr is the local address to connect to.
func (f *Forward) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(f.LocalPort)) }

// Done is closed when the forward stopped (closed, or the pod went away).
func (f *Forward) Done() <-chan struct{} { return f.done }

// Err is why the forward stopped; nil while it runs or after Close.
func (f *Forward) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Close stops the forward and waits until its listener and goroutines are gone.
func (f *Forward) Close() error {
	f.closeOnce.Do(func() {
		close(f.stop)
		<-f.done
		open.Add(-1)
	})
	return nil
}

// Start forwards a kernel-chosen loopback port to remotePort of the pod and
// returns once the local port listens.
func Start(ctx context.Context, cfg *rest.Config, namespace, pod string, remotePort int) (*Forward, error) {
	dialer, err := newDialer(cfg, namespace, pod)
	if err != nil {
		return nil, fmt.Errorf("port-forward %s/%s: %w", namespace, pod, err)
	}
	f := &Forward{Namespace: namespace, Pod: pod, RemotePort: remotePort, stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	errOut := &lastLine{}
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", remotePort)}, f.stop, ready, io.Discard, errOut)
	if err != nil {
		return nil, fmt.Errorf("port-forward %s/%s: %w", namespace, pod, err)
	}
	open.Add(1)
	go func() {
		f.err = pf.ForwardPorts()
		close(f.done)
	}()
	fail := func(err error) (*Forward, error) {
		_ = f.Close()
		return nil, fmt.Errorf("port-forward %s/%s:%d: %w", namespace, pod, remotePort, err)
	}
	select {
	case <-ready:
	case <-f.done:
		return fail(fmt.Errorf("stopped before listening: %w %s (is the pod Running?)", f.err, errOut.String()))
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-time.After(readyTimeout):
		return fail(fmt.Errorf("not listening after %s", readyTimeout))
	}
	ports, err := pf.GetPorts()
	if err != nil {
		return fail(fmt.Errorf("local port unknown: %w", err))
	}
	if len(ports) != 1 {
		return fail(fmt.Errorf("local port unknown: %d forwarded ports, want 1", len(ports)))
	}
	f.LocalPort = int(ports[0].Local)
	return f, nil
}

// newDialer is what kubectl port-forward uses: WebSocket tunnelling, and
// SPDY when the API server cannot upgrade to it.
func newDialer(cfg *rest.Config, namespace, pod string) (httpstream.Dialer, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	ws, err := portforward.NewSPDYOverWebsocketDialer(url, cfg)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialer(ws, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	}), nil
}

// lastLine keeps the last line written (client-go's error output).
type lastLine struct {
	mu   sync.Mutex
	line string
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := strings.TrimSpace(string(p)); s != "" {
		l.line = s
	}
	return len(p), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.line
}

// ErrClosed is returned by a Set that was closed.
var ErrClosed = errors.New("port-forward set closed")
