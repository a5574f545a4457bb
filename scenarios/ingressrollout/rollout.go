package ingressrollout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/loadprobe"
	"github.com/nodelab/nodelab/lab/nlb"
	"github.com/nodelab/nodelab/lab/nlbtargets"
	"github.com/nodelab/nodelab/scenarios"
)

const (
	// baseline is how long load runs before the first rollout: the control,
	// which must not fail a single request.
	baseline = 3 * time.Second
	// tail is how long load goes on after the last rollout is over.
	tail = 2 * time.Second
	// minExposure leaves out exposures shorter than kube-proxy's own lag.
	minExposure = 300 * time.Millisecond
	// KindRollout marks a `rollout restart` in the event log.
	KindRollout = "rollout-restart"
)

// Outcome is what one spec measured.
type Outcome struct {
	Type   nlb.TargetType
	Tuning Tuning
	// Rollouts is how many rollouts ran under load.
	Rollouts int
	// Result is the load probe's record; Baseline the requests that ended
	// before the first rollout.
	Result           *loadprobe.Result
	Baseline         int
	BaselineFailures []loadprobe.Request
	// Events are the rollout events (restarts, pods terminating, endpoints
	// removed, NLB target state changes) in time order.
	Events    []loadprobe.Event
	NLBEvents []nlb.Event
	// Failures are the failed requests with the event each is attributed to.
	Failures []loadprobe.Attribution
	// Exposures are the times the NLB sent new flows where nothing served.
	Exposures []Exposure
	// Targets are the NLB's per-target counters at the end.
	Targets []nlb.TargetStats
	// Residue is, for instance targets, what the nodes' conntrack tables
	// still pin to deleted pods once the load ended.
	Residue []Residue
}

// TargetCounters formats the targets that reset flows, failed dials or
// dialled slowly.
func (o *Outcome) TargetCounters() string {
	var s []string
	for _, t := range o.Targets {
		if t.Resets > 0 || t.DialErrors > 0 || t.SlowDials > 0 {
			s = append(s, fmt.Sprintf("%s: %d flows, %d reset by the NLB, %d failed dials, %d dials ≥ %v", t.Target, t.TotalFlows, t.Resets, t.DialErrors, t.SlowDials, nlb.SlowDial))
		}
	}
	if len(s) == 0 {
		return "no target reset a flow, failed a dial or took ≥ " + nlb.SlowDial.String() + " to connect"
	}
	return strings.Join(s, "; ")
}

// detail is a failure with its error and how long it took.
func detail(a loadprobe.Attribution) string {
	q := a.Request
	how := q.Conn
	if q.Reused {
		how += ", reused connection"
	}
	if q.Resent {
		how += ", resent on a new connection after: " + q.FirstErr
	}
	took := q.End.Sub(q.Start).Round(time.Millisecond)
	if q.Err == "" {
		return fmt.Sprintf("%s [%s; took %s]", a, how, took)
	}
	return fmt.Sprintf("%s [%s; after %s: %s]", a, how, took, q.Err)
}

// Transitions counts NLB state changes into state, per target, that
// happened after from.
func (o *Outcome) Transitions(state nlb.State, from time.Time) int {
	n := 0
	for _, e := range o.NLBEvents {
		if e.To == state && e.From != state && !e.Time.Before(from) {
			n++
		}
	}
	return n
}

// FirstRollout is when the first rollout started.
func (o *Outcome) FirstRollout() time.Time {
	for _, e := range o.Events {
		if e.Kind == KindRollout {
			return e.At
		}
	}
	return time.Time{}
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
		var lines []string
		for _, a := range first(o.Failures, 20) {
			lines = append(lines, detail(a))
		}
		return fmt.Errorf("fix (%s targets): %d of %d requests failed over %d rollouts (no budget: the fix must lose none): %s; by cause: %s; first failures: %s; exposures: %v; conntrack residue: %v; NLB: %s; NLB log: %s",
			t, res.Failed(), len(res.Requests), o.Rollouts, res.Summary(), FailureReport(res, o.Events), strings.Join(lines, "; "), o.Exposures, o.Residue, o.TargetCounters(), nlbLog(o.NLBEvents))
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

// logLatency reports how long the requests that got through took and
// which rollout events the slow ones followed: a request that took over a
// second on a new connection lost a SYN on the way, a near miss that a
// shorter client timeout would have counted as a failure.
func (r *Runbook) logLatency(o *Outcome) {
	l := o.Result.Latency(nlb.SlowDial)
	r.env.Logf("latency of the ok requests: %s; NLB: %s", l, o.TargetCounters())
	for _, a := range first(o.Result.AttributeRequests(l.Slow, o.Events), 5) {
		r.env.Logf("  slow: %s", detail(a))
	}
}

// checkControl fails when requests failed before the first rollout: then
// the lab, not the rollout, is what fails them, and neither side proves
// anything.
func checkControl(o *Outcome) error {
	if o.Baseline == 0 {
		return fmt.Errorf("no request ended during the %s baseline before the first rollout: the load probe did not get through the NLB (%s)", baseline, o.Result.Summary())
	}
	if n := len(o.BaselineFailures); n > 0 {
		var s []string
		for _, q := range first(o.BaselineFailures, 5) {
			s = append(s, fmt.Sprintf("%s %s %s after %s: %s", q.End.Format("15:04:05.000"), q.Outcome, q.Conn, q.End.Sub(q.Start).Round(time.Millisecond), q.Err))
		}
		return fmt.Errorf("control: %d of %d requests failed before any rollout (e.g. %s): the lab is not healthy enough to judge a rollout; NLB: %s; NLB log: %s",
			n, o.Baseline, strings.Join(s, "; "), o.TargetCounters(), nlbLog(o.NLBEvents))
	}
	return nil
}

// measure runs one spec: its own NLB and target controller for target
// type t, the tuning applied and rolled out, the target group healthy,
// then load through the NLB over a baseline and n rollouts.
func (r *Runbook) measure(ctx context.Context, t nlb.TargetType, tuning Tuning, n int) (*Outcome, error) {
	if err := r.requireDeployed(); err != nil {
		return nil, err
	}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if t == nlb.TargetTypeIP {
		dp, err := r.startDataPlane(ctx)
		if err != nil {
			return nil, err
		}
		dial = dp.Dial
	}
	// The spec's own Service first: its annotations configure the target
	// group, and its NodePort is the spec's alone (createSpecService).
	name := specService(tuning, t)
	if err := r.createSpecService(ctx, name, tuning.ServiceAnnotations); err != nil {
		return nil, err
	}
	defer func() {
		if err := r.deleteSpecService(ctx, name); err != nil {
			r.env.Logf("%v", err)
		}
	}()
	svc, err := nlbtargets.GetService(ctx, r.Lab.Client, r.Namespace, name, PortName)
	if err != nil {
		return nil, err
	}
	live, err := r.Lab.Client.CoreV1().Services(r.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get service %s: %w", name, err)
	}
	cfg, err := NLBConfig(t, svc, live.Annotations)
	if err != nil {
		return nil, err
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Dial = dial
	lb, err := nlb.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start the NLB emulator: %w", err)
	}
	r.listens = append(r.listens, lb.Addr())
	defer func() { _ = lb.Close() }()
	opts := nlbtargets.Options{Client: r.Lab.Client, NLB: lb, Namespace: r.Namespace, Name: name, Service: svc, Type: t}
	if tuning.Gate {
		opts.ReadinessGate = ReadinessGate
	}
	sync, err := nlbtargets.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("start the NLB target controller: %w", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = sync.Stop()
		}
	}()
	s := cfg.Scaled()
	r.env.Logf("service %s: NodePort %d, healthCheckNodePort %d", name, svc.NodePort, svc.HealthCheckNodePort)
	r.env.Logf("NLB %s (%s targets, AWS timing ÷ %d): health check %s every %s, healthy %d, unhealthy %d; registration %s, deregistration %s, deregistration delay %s; RST on unhealthy %v",
		lb.Addr(), t, TimeScale, s.HealthCheck.Protocol, s.HealthCheck.Interval, s.HealthCheck.HealthyThreshold, s.HealthCheck.UnhealthyThreshold,
		s.RegistrationPropagation, s.DeregistrationPropagation, s.DeregistrationDelay, s.TerminateOnUnhealthy)

	// Then the Deployment; with a readiness gate its pods become Ready
	// only once the controller above saw their targets healthy.
	if err := r.setDeployment(ctx, tuning); err != nil {
		return nil, err
	}
	if err := r.waitRolledOut(ctx, Deployment, r.replicas()); err != nil {
		return nil, fmt.Errorf("traefik %s: %w", tuning.Name, err)
	}
	if err := r.waitTargetsHealthy(ctx, lb, t, svc); err != nil {
		return nil, err
	}

	// Load: bounded in time (a generous bound over the rollouts' own
	// timeouts) and in count, stopped by cancel once the last rollout is over.
	pctx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	type probeRun struct {
		res *loadprobe.Result
		err error
	}
	done := make(chan probeRun, 1)
	bound := baseline + tail + time.Duration(n+1)*r.t().PodStart
	go func() {
		res, err := loadprobe.Run(pctx, loadprobe.Options{URL: "http://" + lb.Addr().String() + "/", Host: Host, Rate: r.Rate, Duration: bound})
		done <- probeRun{res, err}
	}()
	var rollouts []loadprobe.Event
	rolloutErr := func() error {
		if err := loadFor(ctx, baseline); err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			before, err := r.podNames(ctx)
			if err != nil {
				return err
			}
			at := time.Now()
			rollouts = append(rollouts, loadprobe.Event{At: at, Kind: KindRollout, Subject: "deployment/" + Deployment, Detail: fmt.Sprintf("rollout %d of %d", i, n)})
			if err := r.restart(ctx, at); err != nil {
				return err
			}
			if err := r.waitRolledOut(ctx, Deployment, r.replicas()); err != nil {
				return fmt.Errorf("rollout %d of %d: %w", i, n, err)
			}
			after, err := r.podNames(ctx)
			if err != nil {
				return err
			}
			if kept := intersect(before, after); len(kept) > 0 {
				return fmt.Errorf("rollout %d of %d kept pods %v: the restart did not replace them", i, n, kept)
			}
			r.env.Logf("rollout %d of %d: %v replaced by %v in %s", i, n, before, after, time.Since(at).Round(100*time.Millisecond))
			if tuning.Gate || t == nlb.TargetTypeInstance {
				// The next rollout starts from a healthy target group, as an
				// operator waiting for the NLB would.
				if err := r.waitTargetsHealthy(ctx, lb, t, svc); err != nil {
					return fmt.Errorf("after rollout %d of %d: %w", i, n, err)
				}
			}
		}
		return loadFor(ctx, tail)
	}()
	stopProbe()
	pr := <-done
	if rolloutErr != nil {
		return nil, rolloutErr
	}
	if pr.err != nil && !errors.Is(pr.err, context.Canceled) {
		return nil, pr.err
	}
	stopped = true
	if err := sync.Stop(); err != nil {
		return nil, fmt.Errorf("NLB target controller: %w", err)
	}
	o := &Outcome{Type: t, Tuning: tuning, Rollouts: n, Result: pr.res, NLBEvents: lb.Events(), Targets: lb.Snapshot().Targets}
	o.Events = append(append(append(o.Events, rollouts...), sync.Events()...), loadprobe.FromNLB(o.NLBEvents)...)
	slices.SortStableFunc(o.Events, func(a, b loadprobe.Event) int { return a.At.Compare(b.At) })
	firstRollout := rollouts[0].At
	for _, q := range pr.res.Requests {
		if q.End.Before(firstRollout) {
			o.Baseline++
			if q.Failed() {
				o.BaselineFailures = append(o.BaselineFailures, q)
			}
		}
	}
	o.Failures = pr.res.Attribute(o.Events)
	if t == nlb.TargetTypeIP {
		o.Exposures = PodExposures(o.Events, o.NLBEvents, pr.res.End, minExposure)
	} else {
		o.Exposures = NodeExposures(sync.Gaps(), o.NLBEvents, sync.NodeOf, pr.res.End, minExposure)
		// Read before the Service goes: the entries are keyed by its NodePort.
		if o.Residue, err = r.residue(ctx, o.Targets, svc.NodePort); err != nil {
			r.env.Logf("conntrack residue on the nodes not read: %v", err)
		}
	}
	side := tuning.side()
	r.timeline = pr.res.Timeline(fmt.Sprintf("ingress-rollout %s, %s targets: requests/s through the NLB over %d rollout(s)", side, t, n), markers(t, o.Events, pr.res))
	r.last = o
	return o, nil
}

// plotted are the event kinds a plot marks per target type: the steps of
// a rollout that explain failures there (a node's local endpoints matter
// only to instance targets). The failure messages and the log have every
// event.
var plotted = map[nlb.TargetType][]string{
	nlb.TargetTypeInstance: {KindRollout, loadprobe.KindPodTerminating, loadprobe.KindEndpointsRemoved, loadprobe.KindTargetUnhealthy},
	nlb.TargetTypeIP:       {KindRollout, loadprobe.KindPodTerminating, loadprobe.KindTargetUnhealthy, loadprobe.KindTargetDraining},
}

// markers are the events a plot shows: those of the plotted kinds while the
// load ran, without details and with a target's name only, so that the
// labels stay readable.
func markers(t nlb.TargetType, events []loadprobe.Event, res *loadprobe.Result) []loadprobe.Event {
	var out []loadprobe.Event
	for _, e := range events {
		if e.At.Before(res.Start) || e.At.After(res.End) || !slices.Contains(plotted[t], e.Kind) {
			continue
		}
		e.Detail = ""
		if name, _, ok := strings.Cut(e.Subject, "("); ok && name != "" {
			e.Subject = name
		}
		out = append(out, e)
	}
	return out
}

// loadFor lets the load run for d.
func loadFor(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// podNames lists the Traefik pods that are not terminating.
func (r *Runbook) podNames(ctx context.Context) ([]string, error) {
	pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: appLabel})
	if err != nil {
		return nil, fmt.Errorf("list traefik pods: %w", err)
	}
	var names []string
	for _, p := range pods.Items {
		if !terminating(p) {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// waitTargetsHealthy waits until the NLB routes exactly to what serves:
// instance targets, every node with a ready Traefik pod healthy; ip
// targets, every ready Traefik pod's target healthy; no other target
// routable, and no fail-open.
func (r *Runbook) waitTargetsHealthy(ctx context.Context, lb *nlb.NLB, t nlb.TargetType, svc nlbtargets.Service) error {
	timeout := r.t().Network
	deadline := time.Now().Add(timeout)
	var last string
	for {
		want, err := r.servingTargets(ctx, t, svc)
		if err != nil {
			return err
		}
		snap := lb.Snapshot()
		var missing, extra []string
		for _, a := range want {
			if ts, ok := snap.Target(a); !ok || ts.State != nlb.StateHealthy {
				missing = append(missing, fmt.Sprintf("%s %s", a, ts.State))
			}
		}
		// Nothing else may get new flows: a target still propagating its
		// deregistration does, and its pod may be gone.
		for _, ts := range snap.Targets {
			if ts.Routable && !slices.Contains(want, ts.Target.Addr) {
				extra = append(extra, fmt.Sprintf("%s %s", ts.Target, ts.State))
			}
		}
		last = fmt.Sprintf("want healthy %v, not yet: %v; routable but not serving: %v; fail-open %v", want, missing, extra, snap.FailOpen)
		if len(want) > 0 && len(missing) == 0 && len(extra) == 0 && !snap.FailOpen {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the NLB's %s targets did not become healthy within %s: %s (a target's health-check failures are in the NLB log; on a slow host set %s=2)", t, timeout, last, scenarios.TimeoutScaleEnv)
		}
		if err := loadFor(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("wait for healthy targets: %w (last: %s)", err, last)
		}
	}
}

// servingTargets are the targets that should be healthy now.
func (r *Runbook) servingTargets(ctx context.Context, t nlb.TargetType, svc nlbtargets.Service) ([]netip.AddrPort, error) {
	pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: appLabel})
	if err != nil {
		return nil, fmt.Errorf("list traefik pods: %w", err)
	}
	var out []netip.AddrPort
	for i := range pods.Items {
		p := &pods.Items[i]
		if terminating(*p) || !lab.PodCondition(p, corev1.ContainersReady) {
			continue
		}
		if t == nlb.TargetTypeIP {
			if ip, err := netip.ParseAddr(p.Status.PodIP); err == nil {
				out = append(out, netip.AddrPortFrom(ip, svc.TargetPort))
			}
			continue
		}
		node, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get node %s: %w", p.Spec.NodeName, err)
		}
		if ip, ok := nlbtargets.InternalIP(node); ok {
			if a := netip.AddrPortFrom(ip, svc.NodePort); !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// first returns at most n elements of s.
func first[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// nlbLog formats NLB events for error messages.
func nlbLog(events []nlb.Event) string {
	var s []string
	for _, e := range events {
		s = append(s, e.String())
	}
	return strings.Join(s, "; ")
}
