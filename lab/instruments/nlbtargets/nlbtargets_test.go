package nlbtargets

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/nodelab/nodelab/lab/instruments/loadprobe"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
)

const ns, svc, gate = "ns", "web", corev1.PodConditionType("target-health.nodelab.dev/web")

// listen opens a TCP listener on ip that accepts and closes connections.
func listen(t *testing.T, ip string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func fastNLB(t *testing.T, typ nlb.TargetType) *nlb.NLB {
	t.Helper()
	cfg := nlb.AWSDefaults()
	cfg.TargetType = typ
	cfg.HealthCheck.Interval = 20 * time.Millisecond
	cfg.HealthCheck.Timeout = 500 * time.Millisecond
	cfg.HealthCheck.HealthyThreshold = 1
	cfg.RegistrationPropagation, cfg.DeregistrationPropagation, cfg.DeregistrationDelay = 0, 0, 0
	n, err := nlb.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("start nlb: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func pod(name, node string, containersReady bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if containersReady {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:   corev1.PodSpec{NodeName: node, ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gate}}},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.ContainersReady, Status: st}}}}
}

func ep(addr netip.AddrPort, podName, node string, ready, terminating bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{addr.Addr().String()}, NodeName: &node,
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: podName, Namespace: ns},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Terminating: &terminating}}
}

func slice(eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: svc + "-x", Namespace: ns,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIPTargetsFollowEndpointsAndOpenTheGate(t *testing.T) {
	a := listen(t, "127.0.0.2")
	b := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), a.Port())
	listenOn(t, b)
	c := fake.NewClientset(pod("a", "n1", true), pod("b", "n2", false),
		slice(ep(a, "a", "n1", false, false), ep(b, "b", "n2", false, false)))
	n := fastNLB(t, nlb.TargetTypeIP)
	s, err := Start(t.Context(), Options{Client: c, NLB: n, Namespace: ns, Name: svc,
		Service: Service{TargetPort: a.Port()}, Type: nlb.TargetTypeIP, ReadinessGate: gate, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()

	// a's containers are ready: registered although not Ready (the gate is
	// what waits), and its gate opens once the NLB calls it healthy; b's
	// containers are not ready: not registered.
	eventually(t, "a's readiness gate set", func() bool { return gateOf(t, c, "a") == corev1.ConditionTrue })
	if st, _ := n.Snapshot().Target(a); st.State != nlb.StateHealthy {
		t.Fatalf("a is %s when its gate opened, want healthy", st.State)
	}
	if _, ok := n.Snapshot().Target(b); ok {
		t.Fatal("b, containers not ready, was registered")
	}
	if g := gateOf(t, c, "b"); g == corev1.ConditionTrue {
		t.Fatal("b's gate was set")
	}

	// a terminates: deregistered, with the events that explain failures.
	_, err = c.DiscoveryV1().EndpointSlices(ns).Update(context.Background(),
		slice(ep(a, "a", "n1", false, true), ep(b, "b", "n2", false, false)), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a deregistered", func() bool {
		st, ok := n.Snapshot().Target(a)
		return !ok || st.State == nlb.StateUnused || st.State == nlb.StateDraining
	})
	kinds := map[string]bool{}
	for _, e := range s.Events() {
		kinds[e.Kind+" "+e.Subject] = true
	}
	if !kinds[loadprobe.KindPodTerminating+" a"] {
		t.Errorf("events %v: want a terminating", s.Events())
	}
}

func listenOn(t *testing.T, addr netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func gateOf(t *testing.T, c *fake.Clientset, name string) corev1.ConditionStatus {
	t.Helper()
	p, err := c.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == gate {
			return cond.Status
		}
	}
	return ""
}

func TestInstanceTargetsAreNodesAndGapsAreRecorded(t *testing.T) {
	node := func(name, ip string, excluded bool) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}}}
		if excluded {
			n.Labels[ExcludeLabel] = ""
		}
		return n
	}
	pa := netip.MustParseAddrPort("10.244.1.5:8000")
	c := fake.NewClientset(node("cp", "172.18.0.2", true), node("w1", "172.18.0.3", false), node("w2", "172.18.0.4", false),
		pod("a", "w1", true), slice(ep(pa, "a", "w1", true, false)))
	n := fastNLB(t, nlb.TargetTypeInstance)
	s, err := Start(t.Context(), Options{Client: c, NLB: n, Namespace: ns, Name: svc,
		Service: Service{NodePort: 30080, TargetPort: 8000}, Type: nlb.TargetTypeInstance, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.Stop()
	snap := n.Snapshot()
	if len(snap.Targets) != 2 {
		t.Fatalf("targets %+v, want the two workers only", snap.Targets)
	}
	if got := s.NodeOf(netip.MustParseAddrPort("172.18.0.3:30080")); got != "w1" {
		t.Fatalf("NodeOf(w1's target) = %q", got)
	}
	// w1 loses its only endpoint, then gets one back.
	if _, err := c.DiscoveryV1().EndpointSlices(ns).Update(context.Background(), slice(ep(pa, "a", "w1", false, true)), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "w1's gap opened", func() bool { return openGap(s.Gaps(), "w1") })
	pb := netip.MustParseAddrPort("10.244.1.6:8000")
	if _, err := c.DiscoveryV1().EndpointSlices(ns).Update(context.Background(), slice(ep(pb, "b", "w1", true, false)), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "w1's gap closed", func() bool { return !openGap(s.Gaps(), "w1") })
	var w1 []Gap
	for _, g := range s.Gaps() {
		if g.Node == "w1" {
			w1 = append(w1, g)
		}
	}
	if len(w1) != 1 || !w1[0].End.After(w1[0].Start) {
		t.Fatalf("w1 gaps %+v, want one closed gap", w1)
	}
	if !openGap(s.Gaps(), "w2") {
		t.Fatalf("gaps %+v: w2 never had an endpoint, want its gap open", s.Gaps())
	}
}

func openGap(gaps []Gap, node string) bool {
	for _, g := range gaps {
		if g.Node == node && g.End.IsZero() {
			return true
		}
	}
	return false
}

func TestApplyAnnotations(t *testing.T) {
	cfg := nlb.AWSDefaults()
	err := ApplyAnnotations(&cfg, map[string]string{
		AnnotationTargetType:          "ip",
		AnnotationHealthCheckInterval: "10",
		AnnotationHealthyThreshold:    "2",
		AnnotationTargetGroupAttrs:    AttrUnhealthyTermination + "=false, " + AttrUnhealthyDrainingInterval + "=30," + AttrDeregistrationDelay + "=0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TargetType != nlb.TargetTypeIP || cfg.HealthCheck.Interval != 10*time.Second || cfg.HealthCheck.HealthyThreshold != 2 ||
		cfg.TerminateOnUnhealthy || cfg.UnhealthyDrainingInterval != 30*time.Second || cfg.DeregistrationDelay != 0 {
		t.Fatalf("config %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	err = ApplyAnnotations(&cfg, map[string]string{AnnotationTargetGroupAttrs: "stickiness.enabled=true", AnnotationHealthyThreshold: "1"})
	if err == nil || !strings.Contains(err.Error(), "stickiness.enabled") || !strings.Contains(err.Error(), "2 to 10") {
		t.Fatalf("err %v: want the unknown attribute and the threshold range named", err)
	}
}
