package portforward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Set keeps one forward per running pod of a label selector, keyed by the
// address the pod is known by inside the cluster (podIP:port). Sync brings
// it up to date with the pods; Routes is the podIP:port → 127.0.0.1:port
// table a remapping dialer needs.
type Set struct {
	cfg       *rest.Config
	client    kubernetes.Interface
	namespace string
	selector  string
	port      int

	mu       sync.Mutex
	forwards map[string]*Forward // by podIP:port
	started  []string            // local address of every forward ever started
	closed   bool
}

// NewSet returns an empty set for the pods matching selector in namespace.
func NewSet(cfg *rest.Config, client kubernetes.Interface, namespace, selector string, port int) *Set {
	return &Set{cfg: cfg, client: client, namespace: namespace, selector: selector, port: port, forwards: map[string]*Forward{}}
}

// Sync starts forwards for running pods that have none and closes those of
// pods that are gone or changed IP, and forwards that stopped by themselves.
// It returns the routes even when some forwards could not start. Its
// signature is that of lab/instruments/redisnat's Dialer.Refresh, so a remapping client
// re-lists the pods and re-forwards when a dial fails (after a failover).
func (s *Set) Sync(ctx context.Context) (map[string]string, error) {
	pods, err := s.client.CoreV1().Pods(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: s.selector})
	if err != nil {
		return nil, fmt.Errorf("list pods %q in %s: %w", s.selector, s.namespace, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	want := map[string]string{} // podIP:port → pod name
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			want[net.JoinHostPort(p.Status.PodIP, strconv.Itoa(s.port))] = p.Name
		}
	}
	for addr, f := range s.forwards {
		if want[addr] != f.Pod || f.Err() != nil || isDone(f) {
			_ = f.Close()
			delete(s.forwards, addr)
		}
	}
	var errs []error
	for addr, pod := range want {
		if _, ok := s.forwards[addr]; ok {
			continue
		}
		f, err := Start(ctx, s.cfg, s.namespace, pod, s.port)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.forwards[addr] = f
		s.started = append(s.started, f.Addr())
	}
	return s.routesLocked(), errors.Join(errs...)
}

func isDone(f *Forward) bool {
	select {
	case <-f.Done():
		return true
	default:
		return false
	}
}

// Routes returns podIP:port → 127.0.0.1:localPort for the running forwards.
func (s *Set) Routes() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routesLocked()
}

func (s *Set) routesLocked() map[string]string {
	out := make(map[string]string, len(s.forwards))
	for addr, f := range s.forwards {
		if !isDone(f) {
			out[addr] = f.Addr()
		}
	}
	return out
}

// LocalAddrs lists the local address of every forward the set ever
// started, including those Sync or Close closed since (for leak checks
// after Close: none must accept connections).
func (s *Set) LocalAddrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.started...)
}

// Close closes every forward; the set cannot be used afterwards.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for addr, f := range s.forwards {
		_ = f.Close()
		delete(s.forwards, addr)
	}
	return nil
}
