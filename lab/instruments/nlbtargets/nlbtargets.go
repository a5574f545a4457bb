// Package nlbtargets keeps an NLB emulator's target group (lab/instruments/nlb) in
// step with a Kubernetes Service, as the AWS load balancer controller does,
// and records the rollout events that explain failed requests.
//
//   - Instance targets: every node not labelled
//     node.kubernetes.io/exclude-from-external-load-balancers, at
//     InternalIP:NodePort, registered once; with externalTrafficPolicy Local
//     the NLB health-checks the Service's healthCheckNodePort (the caller
//     sets that up with nlb.Config.UseHealthCheckNodePort from Service).
//     The nodes stay registered during a rollout: whether a node serves is
//     only what its health check says, minutes late on AWS.
//   - IP targets: the pod IP and target port of every endpoint of the
//     Service that is not terminating and whose containers are ready;
//     an endpoint that goes away, turns terminating or not ready is
//     deregistered. With a readiness gate (Options.ReadinessGate, the
//     controller's target-health.elbv2.k8s.aws/<tg> condition) pods are
//     registered before they are Ready and the gate is set True once the
//     NLB reports the target healthy, so that a rollout waits for it.
//
// The controller polls (Options.Poll, 200 ms by default) instead of
// watching: its delay is far below the propagation delays the NLB models.
package nlbtargets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodelab/nodelab/lab/instruments/loadprobe"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
)

// ExcludeLabel marks nodes that external load balancers leave out (kind
// sets it on the control plane).
const ExcludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

// Service is what the target group needs from a Service.
type Service struct {
	// NodePort and TargetPort of the Service port used.
	NodePort   uint16
	TargetPort uint16
	// HealthCheckNodePort is set for type LoadBalancer with
	// externalTrafficPolicy Local.
	HealthCheckNodePort uint16
	// Local is true with externalTrafficPolicy Local.
	Local bool
}

// GetService reads the Service port named portName (the only port when
// empty). The target port must be a number: the NLB's ip targets need it.
func GetService(ctx context.Context, c kubernetes.Interface, namespace, name, portName string) (Service, error) {
	svc, err := c.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Service{}, fmt.Errorf("get service %s/%s: %w", namespace, name, err)
	}
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if p := &svc.Spec.Ports[i]; p.Name == portName || (portName == "" && len(svc.Spec.Ports) == 1) {
			port = p
		}
	}
	if port == nil {
		return Service{}, fmt.Errorf("service %s/%s has no port %q", namespace, name, portName)
	}
	if port.TargetPort.IntValue() == 0 {
		return Service{}, fmt.Errorf("service %s/%s port %q: target port %q is not a number; ip targets need the container port number", namespace, name, port.Name, port.TargetPort.String())
	}
	return Service{
		NodePort:            uint16(port.NodePort),
		TargetPort:          uint16(port.TargetPort.IntValue()),
		HealthCheckNodePort: uint16(svc.Spec.HealthCheckNodePort),
		Local:               svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
	}, nil
}

// Options configure a Sync.
type Options struct {
	Client    kubernetes.Interface
	NLB       *nlb.NLB
	Namespace string
	// Name is the Service's name; Service what GetService read of it.
	Name    string
	Service Service
	// Type is instance or ip.
	Type nlb.TargetType
	// ReadinessGate is the pod condition the controller sets True once a
	// pod's ip target is healthy; empty for none. Only for ip targets.
	ReadinessGate corev1.PodConditionType
	// Poll is the resync period (default 200 ms).
	Poll time.Duration
	// Logger receives registrations; nil discards.
	Logger *slog.Logger
}

// Gap is a time a node had no ready local endpoint of the Service.
type Gap struct {
	Node       string
	Start, End time.Time // End is zero while the gap is open
}

// Sync is a running target controller.
type Sync struct {
	o      Options
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	err        error
	events     []loadprobe.Event
	registered map[netip.AddrPort]nlb.Target // ip targets
	pods       map[string]bool               // pods seen terminating
	nodes      map[string]string             // instance: target addr → node
	local      map[string]int                // node → ready local endpoints
	gaps       []Gap
	gated      map[string]bool // pods whose gate was set
}

// Start registers the current targets and keeps them in step until Stop.
func Start(ctx context.Context, o Options) (*Sync, error) {
	if o.Client == nil || o.NLB == nil {
		return nil, errors.New("nlbtargets: Client and NLB are required")
	}
	if o.Poll == 0 {
		o.Poll = defaultPoll
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReadinessGate != "" && o.Type != nlb.TargetTypeIP {
		return nil, fmt.Errorf("nlbtargets: a readiness gate needs ip targets, not %s", o.Type)
	}
	s := &Sync{o: o, done: make(chan struct{}), registered: map[netip.AddrPort]nlb.Target{},
		pods: map[string]bool{}, nodes: map[string]string{}, local: map[string]int{}, gated: map[string]bool{}}
	if o.Type == nlb.TargetTypeInstance {
		if err := s.registerNodes(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.resync(ctx); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go s.loop(lctx)
	return s, nil
}

// Stop ends the controller and returns the last resync error, if any. The
// targets stay registered (the NLB's Close ends them).
func (s *Sync) Stop() error {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Sync) loop(ctx context.Context) {
	defer close(s.done)
	tk := time.NewTicker(s.o.Poll)
	defer tk.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		err := s.resync(ctx)
		if err != nil && ctx.Err() == nil {
			failures++
			s.o.Logger.Warn("nlb target resync failed", "error", err.Error(), "consecutive", failures)
			if failures >= 25 { // 5 s of API errors at the default poll
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
			}
			continue
		}
		failures = 0
	}
}

// registerNodes registers every node that takes external load-balancer
// traffic at InternalIP:NodePort.
func (s *Sync) registerNodes(ctx context.Context) error {
	nl, err := s.o.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	n := 0
	for _, node := range nl.Items {
		if _, excluded := node.Labels[ExcludeLabel]; excluded {
			continue
		}
		ip, ok := InternalIP(&node)
		if !ok {
			return fmt.Errorf("node %s has no InternalIP", node.Name)
		}
		t := nlb.Target{Addr: netip.AddrPortFrom(ip, s.o.Service.NodePort), Name: node.Name}
		if err := s.o.NLB.Register(t); err != nil {
			return err
		}
		s.nodes[t.Addr.String()] = node.Name
		s.o.Logger.Info("registered instance target", "target", t.String())
		n++
	}
	if n == 0 {
		return fmt.Errorf("no node takes load-balancer traffic: every node is labelled %s", ExcludeLabel)
	}
	return nil
}

// InternalIP returns a node's InternalIP.
func InternalIP(n *corev1.Node) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

// endpoint is one endpoint of the Service, with its pod.
type endpoint struct {
	addr              netip.AddrPort
	pod, node         string
	ready, terminated bool
}

func (s *Sync) endpoints(ctx context.Context) ([]endpoint, error) {
	sl, err := s.o.Client.DiscoveryV1().EndpointSlices(s.o.Namespace).List(ctx,
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + s.o.Name})
	if err != nil {
		return nil, fmt.Errorf("list endpointslices of %s/%s: %w", s.o.Namespace, s.o.Name, err)
	}
	var out []endpoint
	for _, slice := range sl.Items {
		for _, e := range slice.Endpoints {
			if len(e.Addresses) == 0 || e.TargetRef == nil || e.TargetRef.Kind != "Pod" {
				continue
			}
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil {
				continue
			}
			ep := endpoint{addr: netip.AddrPortFrom(ip, s.o.Service.TargetPort), pod: e.TargetRef.Name,
				ready:      e.Conditions.Ready == nil || *e.Conditions.Ready,
				terminated: e.Conditions.Terminating != nil && *e.Conditions.Terminating}
			if e.NodeName != nil {
				ep.node = *e.NodeName
			}
			out = append(out, ep)
		}
	}
	return out, nil
}

// resync reads the Service's endpoints and pods once and applies them.
func (s *Sync) resync(ctx context.Context) error {
	eps, err := s.endpoints(ctx)
	if err != nil {
		return err
	}
	pods, err := s.o.Client.CoreV1().Pods(s.o.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods in %s: %w", s.o.Namespace, err)
	}
	byName := map[string]*corev1.Pod{}
	for i := range pods.Items {
		byName[pods.Items[i].Name] = &pods.Items[i]
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notePods(now, byName, eps)
	s.noteLocal(now, eps)
	if s.o.Type != nlb.TargetTypeIP {
		return nil
	}
	return s.syncIP(ctx, now, eps, byName)
}

// notePods records the first sight of each endpoint pod terminating.
func (s *Sync) notePods(now time.Time, pods map[string]*corev1.Pod, eps []endpoint) {
	for _, e := range eps {
		p := pods[e.pod]
		if s.pods[e.pod] || (p == nil || p.DeletionTimestamp == nil) && !e.terminated {
			continue
		}
		s.pods[e.pod] = true
		s.events = append(s.events, loadprobe.Event{At: now, Kind: loadprobe.KindPodTerminating,
			Subject: e.pod, Detail: "on " + e.node})
	}
}

// noteLocal tracks each node's ready local endpoints and their gaps.
func (s *Sync) noteLocal(now time.Time, eps []endpoint) {
	count := map[string]int{}
	for _, e := range eps {
		if e.ready && !e.terminated && e.node != "" {
			count[e.node]++
		}
	}
	for _, node := range s.nodeNames(eps) {
		was, seen := s.local[node]
		n := count[node]
		s.local[node] = n
		switch {
		case n == 0 && (was > 0 || !seen):
			if seen {
				s.events = append(s.events, loadprobe.Event{At: now, Kind: loadprobe.KindEndpointsRemoved,
					Subject: node, Detail: "no ready local endpoint"})
			}
			s.gaps = append(s.gaps, Gap{Node: node, Start: now})
		case n > 0 && seen && was == 0:
			for i := range s.gaps {
				if g := &s.gaps[i]; g.Node == node && g.End.IsZero() {
					g.End = now
				}
			}
		}
	}
}

// nodeNames are the instance target nodes, or the endpoints' nodes.
func (s *Sync) nodeNames(eps []endpoint) []string {
	var names []string
	for _, n := range s.nodes {
		names = append(names, n)
	}
	if len(names) == 0 {
		for _, e := range eps {
			if e.node != "" && !slices.Contains(names, e.node) {
				names = append(names, e.node)
			}
		}
	}
	slices.Sort(names)
	return names
}

func containersReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.ContainersReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (s *Sync) syncIP(ctx context.Context, now time.Time, eps []endpoint, pods map[string]*corev1.Pod) error {
	want := map[netip.AddrPort]nlb.Target{}
	for _, e := range eps {
		p := pods[e.pod]
		if e.terminated || p == nil || p.DeletionTimestamp != nil {
			continue
		}
		// Without a gate, a target is a Ready endpoint; with one, a pod
		// whose containers are ready (the gate is what waits for the NLB).
		if ok := e.ready; s.o.ReadinessGate != "" {
			ok = containersReady(p)
			if !ok {
				continue
			}
		} else if !ok {
			continue
		}
		want[e.addr] = nlb.Target{Addr: e.addr, Name: e.pod}
	}
	var errs []error
	for addr, t := range want {
		if _, ok := s.registered[addr]; ok {
			continue
		}
		if err := s.o.NLB.Register(t); err != nil {
			errs = append(errs, err)
			continue
		}
		s.registered[addr] = t
		s.o.Logger.Info("registered ip target", "target", t.String())
	}
	for addr, t := range s.registered {
		if _, ok := want[addr]; ok {
			continue
		}
		if err := s.o.NLB.Deregister(t); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(s.registered, addr)
		s.events = append(s.events, loadprobe.Event{At: now, Kind: loadprobe.KindEndpointsRemoved,
			Subject: t.String(), Detail: "endpoint terminating, not ready or gone: deregistered"})
		s.o.Logger.Info("deregistered ip target", "target", t.String())
	}
	if s.o.ReadinessGate != "" {
		errs = append(errs, s.openGates(ctx, pods))
	}
	return errors.Join(errs...)
}

// openGates sets the readiness gate of every registered pod whose target
// the NLB reports healthy.
func (s *Sync) openGates(ctx context.Context, pods map[string]*corev1.Pod) error {
	snap := s.o.NLB.Snapshot()
	var errs []error
	for addr, t := range s.registered {
		st, ok := snap.Target(addr)
		if !ok || st.State != nlb.StateHealthy || s.gated[t.Name] {
			continue
		}
		p := pods[t.Name]
		if p == nil {
			continue
		}
		if err := s.setGate(ctx, p); err != nil {
			errs = append(errs, err)
			continue
		}
		s.gated[t.Name] = true
	}
	return errors.Join(errs...)
}

func (s *Sync) setGate(ctx context.Context, p *corev1.Pod) error {
	p = p.DeepCopy()
	cond := corev1.PodCondition{Type: s.o.ReadinessGate, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.Now(), Reason: "TargetHealthy", Message: "the NLB target is healthy"}
	found := false
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == s.o.ReadinessGate {
			p.Status.Conditions[i], found = cond, true
		}
	}
	if !found {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	_, err := s.o.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // retried at the next resync, or gone
	}
	if err != nil {
		return fmt.Errorf("set readiness gate %s of pod %s: %w", s.o.ReadinessGate, p.Name, err)
	}
	s.o.Logger.Info("readiness gate set", "pod", p.Name, "gate", string(s.o.ReadinessGate))
	return nil
}

// Events returns the rollout events recorded so far.
func (s *Sync) Events() []loadprobe.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Gaps returns the times nodes had no ready local endpoint, open gaps
// with a zero End.
func (s *Sync) Gaps() []Gap {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gaps)
}

// NodeOf returns the node of an instance target address ("" if none).
func (s *Sync) NodeOf(addr netip.AddrPort) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodes[addr.String()]
}
