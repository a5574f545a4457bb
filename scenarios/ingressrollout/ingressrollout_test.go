package ingressrollout

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/instruments/loadprobe"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/instruments/nlbtargets"
	"github.com/nodelab/nodelab/lab/manifest"
)

var svcLocal = nlbtargets.Service{NodePort: 30080, TargetPort: 8000, HealthCheckNodePort: 31000, Local: true}

// fixtureDeployment is the traefik Deployment of the fixture.
func fixtureDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	objs, err := manifest.Decode(fixtures.FS, "ingress-rollout/traefik.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range objs {
		if u.GetKind() == "Deployment" {
			var d appsv1.Deployment
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
				t.Fatal(err)
			}
			return &d
		}
	}
	t.Fatal("no Deployment in ingress-rollout/traefik.yaml")
	return nil
}

// The fix must outlast what the NLB does, derived from its own scaled
// timing: preStop longer than the NLB needs to stop new flows, grace
// longer than preStop plus Traefik's drain, and for instance targets a
// minReadySeconds longer than a node takes to turn healthy.
func TestFixOutlastsTheNLB(t *testing.T) {
	for _, typ := range []nlb.TargetType{nlb.TargetTypeInstance, nlb.TargetTypeIP} {
		t.Run(string(typ), func(t *testing.T) {
			cfg, err := NLBConfig(typ, svcLocal, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Scaled()
			f := Fix(typ, cfg)
			iv := s.HealthCheck.Interval
			stopsNewFlows := iv * time.Duration(s.HealthCheck.UnhealthyThreshold)
			if typ == nlb.TargetTypeIP {
				stopsNewFlows = s.DeregistrationPropagation
			}
			if f.KeepAliveMaxTime <= 0 {
				t.Fatal("the fix must retire keep-alive connections before SIGTERM")
			}
			if f.PreStop <= stopsNewFlows+f.KeepAliveMaxTime+iv {
				t.Errorf("preStop %s ≤ %s (the NLB stops new flows) + %s (the oldest keep-alive connection retires) + %s (one check): the pod would stop serving while flows still reach it", f.PreStop, stopsNewFlows, f.KeepAliveMaxTime, iv)
			}
			if f.Grace <= f.PreStop+traefikGrace {
				t.Errorf("grace %s ≤ preStop %s + traefik's drain %s", f.Grace, f.PreStop, traefikGrace)
			}
			if f.Strategy == nil || f.Strategy.MaxSurge.IntValue() != 1 || f.Strategy.MaxUnavailable.IntValue() != 0 {
				t.Errorf("strategy %+v, want maxSurge 1, maxUnavailable 0", f.Strategy)
			}
			if !f.RouteReadiness {
				t.Error("readiness must go through the route")
			}
			switch typ {
			case nlb.TargetTypeInstance:
				if becomesHealthy := iv * time.Duration(s.HealthCheck.HealthyThreshold); f.MinReady <= becomesHealthy {
					t.Errorf("minReadySeconds %s ≤ %s, the time a node with a new pod takes to turn healthy", f.MinReady, becomesHealthy)
				}
				if f.Gate {
					t.Error("instance targets have no readiness gate")
				}
				with, err := NLBConfig(typ, svcLocal, f.ServiceAnnotations)
				if err != nil {
					t.Fatal(err)
				}
				if with.TerminateOnUnhealthy {
					t.Errorf("annotations %v leave connection termination on unhealthy on", f.ServiceAnnotations)
				}
			case nlb.TargetTypeIP:
				if !f.Gate {
					t.Error("ip targets need the readiness gate")
				}
			}
			if f.PreStop%time.Second != 0 || f.Grace%time.Second != 0 {
				t.Errorf("preStop %s and grace %s must be whole seconds (the API takes seconds)", f.PreStop, f.Grace)
			}
		})
	}
}

// The instance NLB of a Local Service checks the healthCheckNodePort; the
// ip NLB the traffic port over TCP; AWS's timing is divided by TimeScale.
func TestNLBConfig(t *testing.T) {
	inst, err := NLBConfig(nlb.TargetTypeInstance, svcLocal, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hc := inst.HealthCheck; hc.Protocol != nlb.ProtocolHTTP || hc.Port != svcLocal.HealthCheckNodePort || hc.Path != "/healthz" {
		t.Errorf("instance health check %+v, want HTTP /healthz on %d", hc, svcLocal.HealthCheckNodePort)
	}
	if got, want := inst.Scaled().HealthCheck.Interval, 30*time.Second/TimeScale; got != want {
		t.Errorf("scaled interval %s, want %s", got, want)
	}
	ip, err := NLBConfig(nlb.TargetTypeIP, svcLocal, map[string]string{nlbtargets.AnnotationTargetType: "instance"})
	if err != nil {
		t.Fatal(err)
	}
	if ip.TargetType != nlb.TargetTypeIP || ip.HealthCheck.Protocol != nlb.ProtocolTCP || ip.HealthCheck.Port != 0 {
		t.Errorf("ip config %s %+v, want ip targets checked over TCP on the traffic port", ip.TargetType, ip.HealthCheck)
	}
	if _, err := NLBConfig(nlb.TargetTypeIP, svcLocal, map[string]string{nlbtargets.AnnotationTargetGroupAttrs: "no.such.attribute=1"}); err == nil {
		t.Error("an unknown target group attribute was accepted")
	}
}

func TestTuningApply(t *testing.T) {
	d := fixtureDeployment(t)
	pit := d.DeepCopy()
	Pitfall().apply(pit)
	ps := pit.Spec.Template.Spec
	if ps.Containers[0].Lifecycle != nil || ps.TerminationGracePeriodSeconds != nil || len(ps.ReadinessGates) != 0 || pit.Spec.MinReadySeconds != 0 {
		t.Errorf("pitfall adds lifecycle %v, grace %v, gates %v, minReady %d: it must be the fixture as commonly deployed",
			ps.Containers[0].Lifecycle, ps.TerminationGracePeriodSeconds, ps.ReadinessGates, pit.Spec.MinReadySeconds)
	}
	if p := ps.Containers[0].ReadinessProbe.HTTPGet; p.Path != "/ping" {
		t.Errorf("pitfall readiness %s, want the fixture's /ping", p.Path)
	}

	cfg, _ := NLBConfig(nlb.TargetTypeIP, svcLocal, nil)
	f := Fix(nlb.TargetTypeIP, cfg)
	fix := d.DeepCopy()
	f.apply(fix)
	fs := fix.Spec.Template.Spec
	c := fs.Containers[0]
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || time.Duration(c.Lifecycle.PreStop.Sleep.Seconds)*time.Second != f.PreStop {
		t.Errorf("fix lifecycle %+v, want a preStop sleep of %s", c.Lifecycle, f.PreStop)
	}
	if fs.TerminationGracePeriodSeconds == nil || time.Duration(*fs.TerminationGracePeriodSeconds)*time.Second != f.Grace {
		t.Errorf("fix grace %v, want %s", fs.TerminationGracePeriodSeconds, f.Grace)
	}
	if len(fs.ReadinessGates) != 1 || fs.ReadinessGates[0].ConditionType != ReadinessGate {
		t.Errorf("fix gates %v, want %s", fs.ReadinessGates, ReadinessGate)
	}
	if p := c.ReadinessProbe.HTTPGet; p.Path != "/" || p.Port.String() != "web" || len(p.HTTPHeaders) != 1 || p.HTTPHeaders[0].Value != Host {
		t.Errorf("fix readiness %+v, want GET / on web with Host %s", p, Host)
	}
	if !slices.Contains(c.Args, "--entryPoints.web.transport.keepAliveMaxTime="+KeepAliveAge.String()) {
		t.Errorf("fix args %v lack keepAliveMaxTime %s", c.Args, KeepAliveAge)
	}
	if slices.ContainsFunc(ps.Containers[0].Args, func(a string) bool { return strings.Contains(a, "keepAliveMaxTime") }) {
		t.Error("the pitfall sets keepAliveMaxTime")
	}
	if d.Spec.Template.Spec.Containers[0].Lifecycle != nil {
		t.Error("apply changed the fixture it was given a copy of")
	}
}

func TestNodeExposures(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	a := nlb.Target{Addr: netip.MustParseAddrPort("172.18.0.3:30080"), Name: "worker"}
	b := nlb.Target{Addr: netip.MustParseAddrPort("172.18.0.4:30080"), Name: "worker2"}
	events := []nlb.Event{
		{Time: at(0), Target: a, From: nlb.StateInitial, To: nlb.StateHealthy},
		{Time: at(0), Target: b, From: nlb.StateInitial, To: nlb.StateHealthy},
		{Time: at(9.2), Target: b, From: nlb.StateHealthy, To: nlb.StateUnhealthy},
	}
	gaps := []nlbtargets.Gap{
		{Node: "worker2", Start: at(2), End: at(12)}, // NLB noticed at 9.2: 7.2 s exposed
		{Node: "worker", Start: at(5), End: at(5.1)}, // shorter than min
	}
	nodeOf := map[netip.AddrPort]string{a.Addr: "worker", b.Addr: "worker2"}
	got := NodeExposures(gaps, events, func(p netip.AddrPort) string { return nodeOf[p] }, at(20), 300*time.Millisecond)
	if len(got) != 1 {
		t.Fatalf("exposures %v, want one", got)
	}
	if want := "node worker2 had no local endpoint for 7.2 s while the NLB still marked it healthy"; got[0].String() != want {
		t.Errorf("exposure %q, want %q", got[0], want)
	}
}

func TestPodExposures(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	p := nlb.Target{Addr: netip.MustParseAddrPort("10.244.1.5:8000"), Name: "traefik-abc"}
	q := nlb.Target{Addr: netip.MustParseAddrPort("10.244.2.6:8000"), Name: "traefik-def"}
	nlbEvents := []nlb.Event{
		{Time: at(0), Target: p, From: nlb.StateInitial, To: nlb.StateHealthy},
		{Time: at(0), Target: q, From: nlb.StateInitial, To: nlb.StateHealthy},
		{Time: at(1), Target: p, From: nlb.StateHealthy, To: nlb.StateHealthy, Reason: nlb.ReasonDeregistrationRequested},
		{Time: at(7), Target: p, From: nlb.StateHealthy, To: nlb.StateDraining},
	}
	events := []loadprobe.Event{
		{At: at(1), Kind: loadprobe.KindPodTerminating, Subject: "traefik-abc"},
		{At: at(1.5), Kind: loadprobe.KindPodTerminating, Subject: "traefik-abc"}, // first sight counts
	}
	got := PodExposures(events, nlbEvents, at(20), 300*time.Millisecond)
	if len(got) != 1 || !strings.HasPrefix(got[0].String(), "pod traefik-abc terminating for 6.0 s while the NLB still sent it new flows") {
		t.Fatalf("exposures %v, want traefik-abc for 6.0 s", got)
	}
}

func TestFailureReportGroupsByCause(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	res := &loadprobe.Result{Window: 30 * time.Second, Requests: []loadprobe.Request{
		{Start: t0.Add(time.Second), End: t0.Add(time.Second), Outcome: loadprobe.Reset},
		{Start: t0.Add(2 * time.Second), End: t0.Add(2 * time.Second), Outcome: loadprobe.Reset},
		{Start: t0.Add(3 * time.Second), End: t0.Add(3 * time.Second), Outcome: loadprobe.OK},
		{Start: t0.Add(-time.Minute), End: t0.Add(-time.Minute), Outcome: loadprobe.Timeout},
	}}
	events := []loadprobe.Event{{At: t0, Kind: loadprobe.KindPodTerminating, Subject: "traefik-abc"}}
	got := FailureReport(res, events)
	for _, want := range []string{"2 reset after pod-terminating traefik-abc", "1 timeout after no rollout event within the window"} {
		if !strings.Contains(got, want) {
			t.Errorf("report %q lacks %q", got, want)
		}
	}
}

func TestMarkersKeepTheRolloutStepsWhileTheLoadRan(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	res := &loadprobe.Result{Start: t0, End: t0.Add(time.Minute)}
	events := []loadprobe.Event{
		{At: t0.Add(-time.Second), Kind: loadprobe.KindTargetDraining, Subject: "before"},
		{At: t0.Add(time.Second), Kind: KindRollout, Subject: "deployment/traefik", Detail: "rollout 1 of 3"},
		{At: t0.Add(2 * time.Second), Kind: "target-initial", Subject: "traefik-b(10.244.1.9:8000)"},
		{At: t0.Add(3 * time.Second), Kind: loadprobe.KindTargetDraining, Subject: "traefik-a(10.244.2.8:8000)", Detail: "Target.DeregistrationInProgress"},
		{At: t0.Add(2 * time.Minute), Kind: loadprobe.KindPodTerminating, Subject: "after"},
	}
	got := markers(nlb.TargetTypeIP, events, res)
	if len(got) != 2 || got[0].Kind != KindRollout || got[0].Detail != "" || got[1].Subject != "traefik-a" {
		t.Errorf("markers = %+v, want the restart and traefik-a draining, without details or addresses", got)
	}
}

// Every spec gets a Service, and so a NodePort, of its own: a pitfall's
// conntrack residue on the nodes must not reach the next spec's flows.
func TestSpecServicesAreTheirOwn(t *testing.T) {
	names := map[string]bool{}
	for _, tt := range []nlb.TargetType{nlb.TargetTypeInstance, nlb.TargetTypeIP} {
		cfg, err := NLBConfig(tt, svcLocal, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tuning := range []Tuning{Pitfall(), Fix(tt, cfg)} {
			n := specService(tuning, tt)
			if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
				t.Errorf("service name %q: %v", n, errs)
			}
			names[n] = true
		}
	}
	if len(names) != 4 {
		t.Fatalf("4 specs got %d service names: %v", len(names), names)
	}

	objs, err := manifest.Decode(fixtures.FS, "ingress-rollout/traefik.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := &Runbook{Namespace: "ns", Lab: &lab.Lab{Client: fake.NewClientset()}}
	for _, u := range objs {
		if u.GetKind() == "Service" {
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r.baseSvc); err != nil {
				t.Fatal(err)
			}
		}
	}
	// As if the fixture's Service had been created: allocated ports.
	r.baseSvc.Spec.ClusterIP, r.baseSvc.Spec.HealthCheckNodePort, r.baseSvc.Spec.Ports[0].NodePort = "10.96.0.10", 31000, 30080
	extra := map[string]string{"service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "x=y"}
	if err := r.createSpecService(t.Context(), "traefik-fix-ip", extra); err != nil {
		t.Fatal(err)
	}
	got, err := r.Lab.Client.CoreV1().Services("ns").Get(t.Context(), "traefik-fix-ip", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Ports[0].NodePort != 0 || got.Spec.HealthCheckNodePort != 0 || got.Spec.ClusterIP != "" {
		t.Errorf("the spec's Service asks for NodePort %d, healthCheckNodePort %d, clusterIP %q; want all allocated anew",
			got.Spec.Ports[0].NodePort, got.Spec.HealthCheckNodePort, got.Spec.ClusterIP)
	}
	if got.Spec.Type != corev1.ServiceTypeLoadBalancer || got.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("the spec's Service is %s with externalTrafficPolicy %s, want the fixture's LoadBalancer/Local", got.Spec.Type, got.Spec.ExternalTrafficPolicy)
	}
	if got.Annotations["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"] != "x=y" ||
		got.Annotations["service.beta.kubernetes.io/aws-load-balancer-type"] != "external" {
		t.Errorf("annotations %v: want the fixture's plus the spec's", got.Annotations)
	}
	if r.baseSvc.Annotations["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"] != "" {
		t.Error("createSpecService changed the fixture's annotations")
	}
	if err := r.deleteSpecService(t.Context(), "traefik-fix-ip"); err != nil {
		t.Fatal(err)
	}
	if err := r.deleteSpecService(t.Context(), "traefik-fix-ip"); err != nil {
		t.Errorf("deleting a deleted service: %v, want nil", err)
	}
}

func TestPinnedSYNs(t *testing.T) {
	// `conntrack -L -p tcp --dport 31358` on a node after a pitfall, as
	// measured here: two unanswered SYNs pinned to the deleted pod
	// 10.244.2.30, one answered flow, one to another port.
	out := `tcp      6 27 SYN_SENT src=172.18.0.1 dst=172.18.0.3 sport=49620 dport=31358 [UNREPLIED] src=10.244.2.30 dst=172.18.0.1 sport=8000 dport=49620 mark=0 use=1
tcp      6 26 SYN_SENT src=172.18.0.1 dst=172.18.0.3 sport=36274 dport=31358 [UNREPLIED] src=10.244.2.30 dst=172.18.0.1 sport=8000 dport=36274 mark=0 use=1
tcp      6 59 TIME_WAIT src=172.18.0.1 dst=172.18.0.3 sport=35756 dport=31358 src=10.244.2.27 dst=172.18.0.1 sport=8000 dport=35756 [ASSURED] mark=0 use=1
tcp      6 20 SYN_SENT src=172.18.0.1 dst=172.18.0.3 sport=40000 dport=30001 [UNREPLIED] src=10.244.2.9 dst=172.18.0.1 sport=8000 dport=40000 mark=0 use=1
`
	got := PinnedSYNs(out, 31358)
	want := map[netip.Addr]int{netip.MustParseAddr("10.244.2.30"): 2}
	if len(got) != len(want) || got[netip.MustParseAddr("10.244.2.30")] != 2 {
		t.Fatalf("PinnedSYNs = %v, want %v", got, want)
	}
	if s := (Residue{Node: "nodelab-worker2", Pod: netip.MustParseAddr("10.244.2.30"), Ports: 2}).String(); !strings.Contains(s, "2 of the NLB's source ports") || !strings.Contains(s, "10.244.2.30") {
		t.Errorf("Residue.String() = %q", s)
	}
}
