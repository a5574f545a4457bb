// Package ingressrollout is the runbook of scenario `ingress-rollout`:
// zero-downtime rolling updates of an ingress controller (Traefik v3)
// behind an AWS-NLB-like L4 proxy (lab/nlb), for both NLB target types.
//
//  1. Deploy: Traefik (one replica, the Helm chart's default; Service type LoadBalancer with
//     externalTrafficPolicy Local), an Ingress to nodelab's echo backend.
//  2. For instance targets (every node's NodePort, health-checked on the
//     Service's healthCheckNodePort) and ip targets (pod IPs, reached from
//     a data-plane container on the kind network, lab/nlbnet), one spec
//     each for the pitfall and the fix. Each spec creates its own Service
//     (own NodePort: a new NLB, see createSpecService), starts its own NLB with
//     AWS's defaults scaled by TimeScale and a target controller
//     (lab/nlbtargets) playing the AWS load balancer controller, applies its
//     Traefik tuning, waits until the target group is healthy, then sends
//     bounded load through the NLB (lab/loadprobe: 500 req/s, new
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
// Needs a lab created by nodelab (the NLB runs on this host and reaches
// the nodes on the lab's docker network); ip targets need root to dial from
// the data-plane container's network namespace. Typical duration: 4m20s
// with warm images.
package ingressrollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nlb"
	"github.com/nodelab/nodelab/lab/nlbnet"
	"github.com/nodelab/nodelab/lab/nlbtargets"
	"github.com/nodelab/nodelab/lab/routes"
	"github.com/nodelab/nodelab/lab/timeline"
	"github.com/nodelab/nodelab/scenarios"
)

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "ingress-rollout",
		Summary:  "pitfall: rolling Traefik as commonly deployed behind an NLB (scaled AWS timing) fails requests; fix: preStop, grace, surge-only rollout, minReadySeconds, readiness gate: 0 failed requests over 3 rollouts, instance and ip targets",
		Labels:   []scenarios.Label{scenarios.Slow},
		Requires: []string{"a lab created by nodelab (the NLB reaches node IPs on the lab's docker network)", "2 workers", "ip targets: root (the NLB dials from the data-plane container's network namespace)"},
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
	listens    []netip.AddrPort // every NLB listener this runbook started
	goroutines int
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
	if r.Lab.Attached {
		return scenarios.Skipf("requires a lab created by nodelab: the NLB emulator runs on this host and reaches node IPs on the lab's docker network; this run is attached to %s", r.Lab.Kubeconfig)
	}
	r.goroutines = runtime.NumGoroutine()
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
	var objs []*unstructured.Unstructured
	for _, f := range []string{"echo.yaml", "ingress.yaml", "traefik.yaml"} {
		o, err := manifest.Decode(fixtures.FS, "ingress-rollout/"+f)
		if err != nil {
			return err
		}
		objs = append(objs, o...)
	}
	for _, u := range objs {
		switch u.GetKind() {
		case "ClusterRole", "ClusterRoleBinding":
			// Cluster-scoped: one per run, named after the namespace.
			u.SetName(u.GetName() + "-" + ns)
			r.clusterObj = append(r.clusterObj, u.GetKind()+"/"+u.GetName())
			if u.GetKind() == "ClusterRoleBinding" {
				_ = unstructured.SetNestedField(u.Object, u.GetName(), "roleRef", "name")
				subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
				for _, s := range subjects {
					if m, ok := s.(map[string]any); ok {
						m["namespace"] = ns
					}
				}
				_ = unstructured.SetNestedSlice(u.Object, subjects, "subjects")
			}
		case "Deployment":
			ref := echo.Ref(src)
			if u.GetName() == Deployment {
				ref = traefik.Ref(src)
			}
			if err := setImage(u, ref); err != nil {
				return err
			}
			if u.GetName() == Deployment {
				if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r.base); err != nil {
					return fmt.Errorf("traefik deployment fixture: %w", err)
				}
			}
		case "Service":
			if u.GetName() == Service {
				if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r.baseSvc); err != nil {
					return fmt.Errorf("traefik service fixture: %w", err)
				}
			}
		}
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

// setImage sets the image of the only container of a Deployment.
func setImage(u *unstructured.Unstructured, ref string) error {
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		return fmt.Errorf("deployment %s: want one container, the fixture has %d", u.GetName(), len(cs))
	}
	cs[0].(map[string]any)["image"] = ref
	return unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
}

func (r *Runbook) replicas() int {
	if r.base.Spec.Replicas == nil {
		return 1
	}
	return int(*r.base.Spec.Replicas)
}

func (r *Runbook) requireDeployed() error {
	if r.Namespace == "" {
		return errors.New("the scenario is not deployed: run Deploy first")
	}
	return nil
}

// setDeployment sets the Traefik Deployment to the fixture plus t; the
// caller waits for the rollout that starts.
func (r *Runbook) setDeployment(ctx context.Context, t Tuning) error {
	want := r.base.DeepCopy()
	t.apply(want)
	apps := r.Lab.Client.AppsV1().Deployments(r.Namespace)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := apps.Get(ctx, Deployment, metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Spec = want.Spec
		_, err = apps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "nodelab"})
		return err
	}); err != nil {
		return fmt.Errorf("set traefik tuning %q: %w", t.Name, err)
	}
	return nil
}

// specService names the Service of the spec with tuning t and target
// type tt, such as "traefik-fix-instance".
func specService(t Tuning, tt nlb.TargetType) string {
	return fmt.Sprintf("%s-%s-%s", Service, t.side(), tt)
}

// createSpecService creates a spec's own LoadBalancer Service: the
// fixture's, named name, with the fixture's annotations plus extra (target
// group attributes the AWS controller would read). In AWS terms each spec
// provisions its own NLB, and here each gets its own NodePort and
// healthCheckNodePort.
//
// Specs must not share a NodePort. A rollout that blackholes new flows
// can leave conntrack entries on the node (SYN_SENT, up to 120 s) that pin
// the NLB's source address and port to the deleted pod; the NLB dials
// from one address, so its next connections to that node reuse those
// ports within seconds and the node forwards them to the deleted pod too
// (kubernetes/kubernetes#101607). With one Service for all specs, the
// pitfall's residue failed the instance fix in 3 of 9 runs.
func (r *Runbook) createSpecService(ctx context.Context, name string, extra map[string]string) error {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace, Labels: r.baseSvc.Labels, Annotations: map[string]string{}}}
	for k, v := range r.baseSvc.Annotations {
		s.Annotations[k] = v
	}
	for k, v := range extra {
		s.Annotations[k] = v
	}
	s.Spec = *r.baseSvc.Spec.DeepCopy()
	s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.HealthCheckNodePort = "", nil, 0
	for i := range s.Spec.Ports {
		s.Spec.Ports[i].NodePort = 0
	}
	if _, err := r.Lab.Client.CoreV1().Services(r.Namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
		return fmt.Errorf("create service %s: %w", name, err)
	}
	return nil
}

// deleteSpecService deletes a Service createSpecService made; the NLB
// in front of it is gone by then. It runs at the end of a spec even when
// the spec's context has ended.
func (r *Runbook) deleteSpecService(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.t().Cleanup)
	defer cancel()
	err := r.Lab.Client.CoreV1().Services(r.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	return nil
}

// restart does what `kubectl rollout restart` does.
func (r *Runbook) restart(ctx context.Context, at time.Time) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartedAt, at.Format(time.RFC3339Nano))
	_, err := r.Lab.Client.AppsV1().Deployments(r.Namespace).Patch(ctx, Deployment, "application/strategic-merge-patch+json",
		[]byte(patch), metav1.PatchOptions{FieldManager: "nodelab-rollout"})
	if err != nil {
		return fmt.Errorf("rollout restart deployment/%s: %w", Deployment, err)
	}
	return nil
}

// waitRolledOut waits until a Deployment has n updated, available
// replicas and no other pod, terminating ones included: the rollout is
// over only when the old pods are gone.
func (r *Runbook) waitRolledOut(ctx context.Context, name string, n int) error {
	var last string
	deadline := time.Now().Add(r.t().PodStart)
	for {
		d, err := r.Lab.Client.AppsV1().Deployments(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get deployment %s: %w", name, err)
		}
		pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + name})
		if err != nil {
			return fmt.Errorf("list pods of %s: %w", name, err)
		}
		s := d.Status
		last = fmt.Sprintf("generation %d observed %d, replicas %d, updated %d, available %d, pods %s",
			d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas, podStates(pods.Items))
		if s.ObservedGeneration >= d.Generation && int(s.UpdatedReplicas) == n && int(s.AvailableReplicas) == n &&
			int(s.Replicas) == n && len(pods.Items) == n && !slices.ContainsFunc(pods.Items, terminating) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deployment %s did not roll out within %s: %s (the pods' events are in the failure bundle; on a slow host set %s=2)", name, r.t().PodStart, last, scenarios.TimeoutScaleEnv)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s rollout: %w (last: %s)", name, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func terminating(p corev1.Pod) bool { return p.DeletionTimestamp != nil }

func podStates(pods []corev1.Pod) string {
	var s []string
	for _, p := range pods {
		st := string(p.Status.Phase)
		if terminating(p) {
			st = "Terminating"
		} else if lab.PodCondition(&p, corev1.PodReady) {
			st = "Ready"
		}
		s = append(s, p.Name+" "+st+" on "+p.Spec.NodeName)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// startDataPlane starts (once) the container ip targets are dialled from.
func (r *Runbook) startDataPlane(ctx context.Context) (*nlbnet.DataPlane, error) {
	if r.dataPlane != nil {
		return r.dataPlane, nil
	}
	dp, err := r.Lab.StartNLBDataPlane(ctx, slog.New(slog.DiscardHandler))
	if errors.Is(err, nlbnet.ErrNeedRoot) {
		return nil, scenarios.Skipf("%v", err)
	}
	if err != nil {
		return nil, err
	}
	r.dataPlane = dp
	r.env.Logf("ip targets dialled from container %s at %s (routes to every podCIDR inside it, none on the host)", nlbnet.ContainerName(r.Lab.Name), dp.Addr())
	return dp, nil
}

// Cleanup deletes what Deploy created and stops the data plane.
func (r *Runbook) Cleanup(ctx context.Context) error {
	var errs []error
	if r.dataPlane != nil {
		errs = append(errs, r.dataPlane.Close(ctx))
		r.dataPlane = nil
	}
	for _, o := range r.clusterObj {
		kind, name, _ := strings.Cut(o, "/")
		var err error
		switch kind {
		case "ClusterRole":
			err = r.Lab.Client.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
		case "ClusterRoleBinding":
			err = r.Lab.Client.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", o, err))
		}
	}
	r.clusterObj = nil
	if r.Namespace != "" {
		errs = append(errs, r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup))
	}
	return errors.Join(errs...)
}

// CheckNoLeaks checks, after Cleanup, that the scenario left nothing on
// the host: no data-plane container, no host route into a podCIDR, no NLB
// listener still accepting, goroutines back near where Deploy found them.
func (r *Runbook) CheckNoLeaks(ctx context.Context) error {
	if r.Lab.Attached {
		return nil // Deploy skipped: nothing was started
	}
	var errs []error
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label="+nlbnet.LabelLab+"="+r.Lab.Name,
		"--filter", "label="+nlbnet.LabelRole, "--format", "{{.Names}}").Output()
	if err != nil {
		errs = append(errs, fmt.Errorf("docker ps: %w", err))
	} else if s := strings.TrimSpace(string(out)); s != "" {
		errs = append(errs, fmt.Errorf("data-plane container left: %s", s))
	}
	if bad, err := hostPodRoutes(ctx, r.Lab); err != nil {
		errs = append(errs, err)
	} else if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("the host routes pod networks: %s", strings.Join(bad, "; ")))
	}
	for _, a := range r.listens {
		if c, err := net.DialTimeout("tcp", a.String(), time.Second); err == nil {
			_ = c.Close()
			errs = append(errs, fmt.Errorf("the NLB listener %s still accepts connections", a))
		}
	}
	// An NLB waits for all its goroutines in Close; idle HTTP connections of
	// the client-go and probe transports may linger briefly.
	const allowance = 40
	var n int
	for end := time.Now().Add(10 * time.Second); ; {
		if n = runtime.NumGoroutine(); n <= r.goroutines+allowance || time.Now().After(end) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if n > r.goroutines+allowance {
		errs = append(errs, fmt.Errorf("%d goroutines after cleanup, %d before deploy (allowance %d)", n, r.goroutines, allowance))
	}
	return errors.Join(errs...)
}

// hostPodRoutes lists host routes that overlap a node's podCIDR.
func hostPodRoutes(ctx context.Context, l *lab.Lab) ([]string, error) {
	nodes, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	host, err := routes.Host(ctx)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, n := range nodes.Items {
		if cidr, err := netip.ParsePrefix(n.Spec.PodCIDR); err == nil {
			bad = append(bad, routes.Overlapping(host, cidr)...)
		}
	}
	return bad, nil
}
