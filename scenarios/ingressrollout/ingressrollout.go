// Package ingressrollout is the runbook of scenario `ingress-rollout`:
// zero-downtime rolling updates of an ingress controller (Traefik v3)
// behind an AWS-NLB-like L4 proxy (lab/instruments/nlb), for both NLB target types.
//
//  1. Deploy: Traefik (one replica, the Helm chart's default; Service type LoadBalancer with
//     externalTrafficPolicy Local), an Ingress to nodelab's echo backend.
//  2. For instance targets (every node's NodePort, health-checked on the
//     Service's healthCheckNodePort) and ip targets (pod IPs, reached from
//     a data-plane container on the kind network, lab/nlbnet), one spec
//     each for the pitfall and the fix. Each spec creates its own Service
//     (own NodePort: a new NLB, see createSpecService), starts its own NLB with
//     AWS's defaults scaled by TimeScale and a target controller
//     (lab/instruments/nlbtargets) playing the AWS load balancer controller, applies its
//     Traefik tuning, waits until the target group is healthy, then sends
//     bounded load through the NLB (lab/instruments/loadprobe: 500 req/s, new
//     connections and keep-alive): a baseline with no rollout (the
//     control, which must not fail a single request), then `kubectl
//     rollout restart`s, each waited for until no old pod is left.
//  3. Pitfall: Traefik as commonly deployed (no preStop, default grace
//     and strategy), one rollout: at least one request fails, each
//     failure is classified (refused, reset, timeout, 5xx) and attributed
//     to a rollout event, and the times the NLB sent new flows to a node
//     without a local endpoint (instance) or to a terminating pod (ip) are
//     reported.
//  4. Fix (Fix): preStop sleep longer than the NLB needs to stop sending
//     new flows, a grace period longer than preStop plus Traefik's drain,
//     maxSurge 1 / maxUnavailable 0, minReadySeconds, readiness through the
//     route, and for ip targets the readiness gate: zero failed requests
//     over three consecutive rollouts, with no success-rate budget, while
//     the NLB log shows the same unhealthy/draining transitions that hurt
//     the pitfall.
//
// Needs nodes this host reaches at their InternalIPs (the NLB runs on this
// host; measured), node access (conntrack), and for ip targets this host's
// Docker engine running the nodes and root (the data-plane container on
// the cluster's docker network). Typical duration: 4m20s
// with warm images.
package ingressrollout

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/leakcheck"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/instruments/nlbtargets"
	"github.com/nodelab/nodelab/lab/instruments/timeline"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nlbnet"
	"github.com/nodelab/nodelab/scenarios"
)

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "ingress-rollout",
		Summary:  "pitfall: rolling Traefik as commonly deployed behind an NLB (scaled AWS timing) fails requests; fix: preStop, grace, surge-only rollout, minReadySeconds, readiness gate: 0 failed requests over 3 rollouts, instance and ip targets",
		Labels:   []scenarios.Label{scenarios.Slow},
		Requires: []string{"node InternalIPs this host reaches (the NLB runs here; measured)", "node access (conntrack)", "2 workers", "ip targets: this host's Docker engine runs the nodes, and root (the NLB dials from a data-plane container on their network)"},
		Typical:  4*time.Minute + 20*time.Second,
		Images:   []images.Image{images.Traefik(), images.Echo()},
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "deploy: traefik (1 replica, LoadBalancer, externalTrafficPolicy Local), echo backend, Ingress", Timeout: Timeouts.Deploy, Typical: 12 * time.Second, Run: r.Deploy},
				{Side: scenarios.Pitfall, Name: "pitfall (instance targets): one rollout of Traefik as commonly deployed fails requests, each classified and attributed", Timeout: Timeouts.Pitfall, Typical: 15 * time.Second, Run: r.reported("pitfall-instance", r.PitfallInstance)},
				{Side: scenarios.Fix, Name: "fix (instance targets): preStop, grace, surge-only rollout, minReadySeconds: 0 failed requests over 3 rollouts", Timeout: Timeouts.Fix, Typical: 67 * time.Second, Run: r.reported("fix-instance", r.FixInstance)},
				{Side: scenarios.Pitfall, Name: "pitfall (ip targets): one rollout of Traefik as commonly deployed fails requests, each classified and attributed", Timeout: Timeouts.Pitfall, Typical: 31 * time.Second, Run: r.reported("pitfall-ip", r.PitfallIP)},
				{Side: scenarios.Fix, Name: "fix (ip targets): preStop, grace, surge-only rollout, readiness gate: 0 failed requests over 3 rollouts", Timeout: Timeouts.Fix, Typical: 131 * time.Second, Run: r.reported("fix-ip", r.FixIP)},
			},
			Cleanup: scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
			LeakChecks: []scenarios.Step{
				{Side: scenarios.Check, Name: "no NLB listener, data plane or extra goroutine after cleanup", Timeout: Timeouts.LeakCheck, Run: r.CheckNoLeaks},
			},
		}
	},
}

const (
	// Deployment and Service are the ingress controller's objects.
	Deployment = "traefik"
	Service    = "traefik"
	// PortName is the Service port the NLB forwards.
	PortName = "web"
	// appLabel selects the Traefik pods.
	appLabel = "app.kubernetes.io/name=traefik"
	// restartedAt is the annotation `kubectl rollout restart` sets.
	restartedAt = "kubectl.kubernetes.io/restartedAt"
)

// Runbook runs the scenario on a lab.
type Runbook struct {
	env       scenarios.Env
	Lab       *lab.Lab
	Addons    addon.Options
	Namespace string
	// Rollouts is how many consecutive rollouts the fix must survive (3).
	Rollouts int
	// Rate is the load probe's request rate per second (500).
	Rate int
	// timeline is the current step's load over time with its rollout
	// events, for the report; nil until the step sent load.
	timeline *timeline.Timeline
	// last is the current step's outcome, for its report entries.
	last *Outcome

	base       appsv1.Deployment // traefik as in the fixture
	baseSvc    corev1.Service    // traefik's Service as in the fixture
	clusterObj []string          // names of the ClusterRole and binding
	dataPlane  *nlbnet.DataPlane
	listens    []netip.AddrPort   // every NLB listener this runbook started
	baseline   leakcheck.Baseline // goroutines before Deploy started anything
}

// New returns a runbook for an environment with the scenario's defaults.
func New(env scenarios.Env) *Runbook {
	return &Runbook{env: env, Lab: env.Lab, Addons: env.Addons, Rollouts: 3, Rate: 500}
}

// reported runs one side and reports what it measured: the load timeline
// (plotted under name) and the request counts.
func (r *Runbook) reported(name string, side func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		r.timeline, r.last = nil, nil
		defer func() {
			r.env.Timeline(name, r.timeline)
			if o := r.last; o != nil {
				r.env.Measure("requests", fmt.Sprintf("%d sent, %d failed, %d rollout(s): %s", len(o.Result.Requests), o.Result.Failed(), o.Rollouts, o.Result.Summary()))
			}
		}()
		return side(ctx)
	}
}

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// Deploy creates the namespace, echo, the Ingress and Traefik as commonly
// deployed, and waits for both Deployments.
func (r *Runbook) Deploy(ctx context.Context) error {
	// The NLB emulator runs on this host and dials the nodes' NodePorts;
	// the conntrack residue is read on the nodes.
	if err := r.Lab.DialNodes(ctx); err != nil {
		return scenarios.Skipf("the NLB emulator runs on this host and dials the nodes' InternalIPs, which this host cannot reach (an emulator inside the cluster is not built yet); measured: %v", err)
	}
	if err := r.Lab.NodeAccess(); err != nil {
		return scenarios.Skipf("requires node access (conntrack on the nodes); measured on %s: %v", r.Lab.Name, err)
	}
	r.baseline = leakcheck.Take()
	traefik, echo := images.Traefik(), images.Echo()
	if err := addon.EnsureImages(ctx, r.Lab, r.Addons, traefik, echo); err != nil {
		return err
	}
	src := addon.Source(r.Lab)
	ns, err := r.Lab.CreateNamespace(ctx, "nodelab-ingress-rollout")
	if err != nil {
		return err
	}
	r.Namespace = ns
	ap, err := manifest.NewApplier(r.Lab.Config)
	if err != nil {
		return err
	}
	objs, err := r.fixtureObjects(ns, traefik.Ref(src), echo.Ref(src))
	if err != nil {
		return err
	}
	if err := ap.Create(ctx, objs, manifest.InNamespace(ns)); err != nil {
		return err
	}
	if err := r.waitRolledOut(ctx, "echo", 2); err != nil {
		return err
	}
	if err := r.waitRolledOut(ctx, Deployment, r.replicas()); err != nil {
		return err
	}
	svc, err := nlbtargets.GetService(ctx, r.Lab.Client, ns, Service, PortName)
	if err != nil {
		return err
	}
	r.env.Logf("traefik ready: NodePort %d, healthCheckNodePort %d, images %s and %s", svc.NodePort, svc.HealthCheckNodePort, traefik.Ref(src), echo.Ref(src))
	return nil
}

// PitfallInstance runs the pitfall with instance targets.
func (r *Runbook) PitfallInstance(ctx context.Context) error {
	return r.pitfall(ctx, nlb.TargetTypeInstance)
}

// PitfallIP runs the pitfall with ip targets.
func (r *Runbook) PitfallIP(ctx context.Context) error { return r.pitfall(ctx, nlb.TargetTypeIP) }

// FixInstance runs the fix with instance targets.
func (r *Runbook) FixInstance(ctx context.Context) error { return r.fix(ctx, nlb.TargetTypeInstance) }

// FixIP runs the fix with ip targets.
func (r *Runbook) FixIP(ctx context.Context) error { return r.fix(ctx, nlb.TargetTypeIP) }

// pitfall: one rollout of Traefik as commonly deployed fails requests,
// each classified and attributed.
func (r *Runbook) pitfall(ctx context.Context, t nlb.TargetType) error {
	o, err := r.measure(ctx, t, Pitfall(), 1)
	if err != nil {
		return err
	}
	if err := checkControl(o); err != nil {
		return err
	}
	res := o.Result
	if res.Failed() == 0 {
		return fmt.Errorf("pitfall not reproduced with %s targets: 0 of %d requests failed during the rollout (%s); the NLB log: %s",
			t, len(res.Requests), res.Summary(), nlbLog(o.NLBEvents))
	}
	var unexplained []string
	for _, a := range o.Failures {
		if a.Event == nil {
			unexplained = append(unexplained, a.String())
		}
	}
	if len(unexplained) > 0 {
		return fmt.Errorf("%d of %d failures have no rollout event within %s before them, so the rollout does not explain them: %s",
			len(unexplained), len(o.Failures), res.Window, strings.Join(first(unexplained, 10), "; "))
	}
	r.env.Logf("pitfall (%s targets): %d of %d requests failed during 1 rollout: %s", t, res.Failed(), len(res.Requests), res.Summary())
	r.env.Logf("failures by cause: %s", FailureReport(res, o.Events))
	for _, a := range first(o.Failures, 5) {
		r.env.Logf("  e.g. %s", detail(a))
	}
	r.logLatency(o)
	for _, res := range o.Residue {
		r.env.Logf("residue: %s", res)
	}
	for _, e := range o.Exposures {
		r.env.Logf("exposure: %s", e)
	}
	return nil
}

// fix: the tuning Fix derives from the NLB's timing survives r.Rollouts
// consecutive rollouts with zero failed requests, while the NLB still
// drains or fails the old targets as in the pitfall.
func (r *Runbook) fix(ctx context.Context, t nlb.TargetType) error {
	svc, err := nlbtargets.GetService(ctx, r.Lab.Client, r.Namespace, Service, PortName)
	if err != nil {
		return err
	}
	cfg, err := NLBConfig(t, svc, r.baseSvc.Annotations)
	if err != nil {
		return err
	}
	f := Fix(t, cfg)
	r.env.Logf("fix (%s targets): keep-alive connections retired after %s, preStop %s, terminationGracePeriodSeconds %s, maxSurge 1, maxUnavailable 0, minReadySeconds %s, readiness through the route, readiness gate %v, service annotations %v",
		t, f.KeepAliveMaxTime, f.PreStop, f.Grace, f.MinReady, f.Gate, f.ServiceAnnotations)
	o, err := r.measure(ctx, t, f, r.Rollouts)
	if err != nil {
		return err
	}
	if err := checkControl(o); err != nil {
		return err
	}
	res := o.Result
	if res.Failed() > 0 {
		return fmt.Errorf("fix (%s targets): %d of %d requests failed over %d rollouts (no budget: the fix must lose none): %s; by cause: %s; first failures: %s; exposures: %v; conntrack residue: %v; NLB: %s; NLB log: %s",
			t, res.Failed(), len(res.Requests), o.Rollouts, res.Summary(), FailureReport(res, o.Events), details(first(o.Failures, 20)), o.Exposures, o.Residue, o.TargetCounters(), nlbLog(o.NLBEvents))
	}
	// The fix must have been tested against the behaviour that breaks the
	// pitfall, not around it: every old pod replaced under load and, for
	// ip targets, every old target drained by the NLB.
	from := o.FirstRollout()
	if t == nlb.TargetTypeInstance && r.replicas() < len(o.Targets) {
		// Fewer replicas than nodes: every rollout leaves the old pod's
		// node without a local endpoint, which the NLB must have seen.
		if u := o.Transitions(nlb.StateUnhealthy, from); u < o.Rollouts {
			return fmt.Errorf("fix (instance targets): the NLB saw %d nodes turn unhealthy during %d rollouts of %d replica(s) on %d nodes, want ≥ %d: the rollouts did not empty a node; NLB log: %s",
				u, o.Rollouts, r.replicas(), len(o.Targets), o.Rollouts, nlbLog(o.NLBEvents))
		}
	}
	if t == nlb.TargetTypeIP {
		if d, want := o.Transitions(nlb.StateDraining, from), o.Rollouts*r.replicas(); d < want {
			return fmt.Errorf("fix (ip targets): the NLB drained %d targets during %d rollouts of %d replicas, want ≥ %d: the rollouts did not go through deregistration; NLB log: %s",
				d, o.Rollouts, r.replicas(), want, nlbLog(o.NLBEvents))
		}
	}
	r.env.Logf("fix (%s targets): 0 failed of %d requests over %d consecutive rollouts (%s); the NLB meanwhile: %d targets unhealthy, %d draining, %d healthy",
		t, len(res.Requests), o.Rollouts, res.Summary(), o.Transitions(nlb.StateUnhealthy, from), o.Transitions(nlb.StateDraining, from), o.Transitions(nlb.StateHealthy, from))
	r.logLatency(o)
	return nil
}

// checkControl fails when requests failed before the first rollout: then
// the lab, not the rollout, is what fails them, and neither side proves
// anything.
func checkControl(o *Outcome) error {
	if o.Baseline == 0 {
		return fmt.Errorf("no request ended during the %s baseline before the first rollout: the load probe did not get through the NLB (%s)", baseline, o.Result.Summary())
	}
	if n := len(o.BaselineFailures); n > 0 {
		return fmt.Errorf("control: %d of %d requests failed before any rollout (e.g. %s): the lab is not healthy enough to judge a rollout; NLB: %s; NLB log: %s",
			n, o.Baseline, requests(first(o.BaselineFailures, 5)), o.TargetCounters(), nlbLog(o.NLBEvents))
	}
	return nil
}

// Cleanup deletes what Deploy created and stops the data plane.
func (r *Runbook) Cleanup(ctx context.Context) error {
	var errs []error
	if r.dataPlane != nil {
		errs = append(errs, r.dataPlane.Close(ctx))
		r.dataPlane = nil
	}
	errs = append(errs, r.deleteClusterObjects(ctx)...)
	if r.Namespace != "" {
		errs = append(errs, r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup))
	}
	return errors.Join(errs...)
}

// CheckNoLeaks checks, after Cleanup, that the scenario left nothing on
// the host: no data-plane container, no host route into a podCIDR, no NLB
// listener still accepting, goroutines back near where Deploy found them.
func (r *Runbook) CheckNoLeaks(ctx context.Context) error {
	if !r.baseline.Taken() {
		return nil // Deploy skipped: nothing was started
	}
	errs := []error{r.dataPlaneLeft(ctx), r.podRoutesLeft(ctx), r.listenersLeft(ctx)}
	leak, err := r.goroutinesLeft(ctx)
	if err != nil {
		return err
	}
	return errors.Join(append(errs, leak)...)
}
