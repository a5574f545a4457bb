package ingressrollout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/instruments/loadprobe"
	"github.com/nodelab/nodelab/lab/instruments/nlb"
	"github.com/nodelab/nodelab/lab/instruments/nlbtargets"
)

// KindRollout marks a `rollout restart` in the event log.
const KindRollout = "rollout-restart"

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
	lb, sync, svc, err := r.startNLB(ctx, t, tuning, name, dial)
	if err != nil {
		return nil, err
	}
	defer func() { _ = lb.Close() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = sync.Stop()
		}
	}()

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

	res, rollouts, err := r.underLoad(ctx, lb, t, svc, tuning, n)
	if err != nil {
		return nil, err
	}
	stopped = true
	if err := sync.Stop(); err != nil {
		return nil, fmt.Errorf("NLB target controller: %w", err)
	}
	o := r.outcome(ctx, t, tuning, n, res, rollouts, lb, sync, svc)
	r.timeline = res.Timeline(fmt.Sprintf("ingress-rollout %s, %s targets: requests/s through the NLB over %d rollout(s)", tuning.side(), t, n), markers(t, o.Events, res))
	r.last = o
	return o, nil
}

// startNLB starts the NLB emulator in front of the spec's Service name,
// configured from its annotations, and the target controller that plays
// the AWS load balancer controller for it. The caller closes the NLB and
// stops the controller.
func (r *Runbook) startNLB(ctx context.Context, t nlb.TargetType, tuning Tuning, name string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*nlb.NLB, *nlbtargets.Sync, nlbtargets.Service, error) {
	svc, err := nlbtargets.GetService(ctx, r.Lab.Client, r.Namespace, name, PortName)
	if err != nil {
		return nil, nil, svc, err
	}
	live, err := r.Lab.Client.CoreV1().Services(r.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, svc, fmt.Errorf("get service %s: %w", name, err)
	}
	cfg, err := NLBConfig(t, svc, live.Annotations)
	if err != nil {
		return nil, nil, svc, err
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Dial = dial
	lb, err := nlb.Start(ctx, cfg)
	if err != nil {
		return nil, nil, svc, fmt.Errorf("start the NLB emulator: %w", err)
	}
	r.listens = append(r.listens, lb.Addr())
	opts := nlbtargets.Options{Client: r.Lab.Client, NLB: lb, Namespace: r.Namespace, Name: name, Service: svc, Type: t}
	if tuning.Gate {
		opts.ReadinessGate = ReadinessGate
	}
	sync, err := nlbtargets.Start(ctx, opts)
	if err != nil {
		_ = lb.Close()
		return nil, nil, svc, fmt.Errorf("start the NLB target controller: %w", err)
	}
	s := cfg.Scaled()
	r.env.Logf("service %s: NodePort %d, healthCheckNodePort %d", name, svc.NodePort, svc.HealthCheckNodePort)
	r.env.Logf("NLB %s (%s targets, AWS timing ÷ %d): health check %s every %s, healthy %d, unhealthy %d; registration %s, deregistration %s, deregistration delay %s; RST on unhealthy %v",
		lb.Addr(), t, TimeScale, s.HealthCheck.Protocol, s.HealthCheck.Interval, s.HealthCheck.HealthyThreshold, s.HealthCheck.UnhealthyThreshold,
		s.RegistrationPropagation, s.DeregistrationPropagation, s.DeregistrationDelay, s.TerminateOnUnhealthy)
	return lb, sync, svc, nil
}

// underLoad sends load through lb, bounded in time (a generous bound over
// the rollouts' own timeouts) and in count, over the baseline, n rollouts
// and the tail, and stops it once the last rollout is over. It returns the
// probe's record and the rollout events.
func (r *Runbook) underLoad(ctx context.Context, lb *nlb.NLB, t nlb.TargetType, svc nlbtargets.Service, tuning Tuning, n int) (*loadprobe.Result, []loadprobe.Event, error) {
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
	rollouts, rolloutErr := r.rollOut(ctx, lb, t, svc, tuning, n)
	stopProbe()
	pr := <-done
	if rolloutErr != nil {
		return nil, nil, rolloutErr
	}
	if pr.err != nil && !errors.Is(pr.err, context.Canceled) {
		return nil, nil, pr.err
	}
	return pr.res, rollouts, nil
}

// rollOut lets the load run for the baseline, then restarts Traefik n
// times, each waited for until every old pod is replaced (and, when the
// spec needs it, the target group is healthy again), then lets the load
// run for the tail. It returns the rollout events.
func (r *Runbook) rollOut(ctx context.Context, lb *nlb.NLB, t nlb.TargetType, svc nlbtargets.Service, tuning Tuning, n int) ([]loadprobe.Event, error) {
	var rollouts []loadprobe.Event
	if err := loadFor(ctx, baseline); err != nil {
		return rollouts, err
	}
	for i := 1; i <= n; i++ {
		before, err := r.podNames(ctx)
		if err != nil {
			return rollouts, err
		}
		at := time.Now()
		rollouts = append(rollouts, loadprobe.Event{At: at, Kind: KindRollout, Subject: "deployment/" + Deployment, Detail: fmt.Sprintf("rollout %d of %d", i, n)})
		if err := r.restart(ctx, at); err != nil {
			return rollouts, err
		}
		if err := r.waitRolledOut(ctx, Deployment, r.replicas()); err != nil {
			return rollouts, fmt.Errorf("rollout %d of %d: %w", i, n, err)
		}
		after, err := r.podNames(ctx)
		if err != nil {
			return rollouts, err
		}
		if kept := intersect(before, after); len(kept) > 0 {
			return rollouts, fmt.Errorf("rollout %d of %d kept pods %v: the restart did not replace them", i, n, kept)
		}
		r.env.Logf("rollout %d of %d: %v replaced by %v in %s", i, n, before, after, time.Since(at).Round(displayRound))
		if tuning.Gate || t == nlb.TargetTypeInstance {
			// The next rollout starts from a healthy target group, as an
			// operator waiting for the NLB would.
			if err := r.waitTargetsHealthy(ctx, lb, t, svc); err != nil {
				return rollouts, fmt.Errorf("after rollout %d of %d: %w", i, n, err)
			}
		}
	}
	return rollouts, loadFor(ctx, tail)
}

// outcome classifies what one spec's load saw: the baseline (the
// control), the failures attributed to rollout events, the exposures and,
// for instance targets, the conntrack residue on the nodes.
func (r *Runbook) outcome(ctx context.Context, t nlb.TargetType, tuning Tuning, n int, res *loadprobe.Result, rollouts []loadprobe.Event, lb *nlb.NLB, sync *nlbtargets.Sync, svc nlbtargets.Service) *Outcome {
	o := &Outcome{Type: t, Tuning: tuning, Rollouts: n, Result: res, NLBEvents: lb.Events(), Targets: lb.Snapshot().Targets}
	o.Events = append(append(append(o.Events, rollouts...), sync.Events()...), loadprobe.FromNLB(o.NLBEvents)...)
	slices.SortStableFunc(o.Events, func(a, b loadprobe.Event) int { return a.At.Compare(b.At) })
	firstRollout := rollouts[0].At
	for _, q := range res.Requests {
		if q.End.Before(firstRollout) {
			o.Baseline++
			if q.Failed() {
				o.BaselineFailures = append(o.BaselineFailures, q)
			}
		}
	}
	o.Failures = res.Attribute(o.Events)
	if t == nlb.TargetTypeIP {
		o.Exposures = PodExposures(o.Events, o.NLBEvents, res.End, minExposure)
	} else {
		o.Exposures = NodeExposures(sync.Gaps(), o.NLBEvents, sync.NodeOf, res.End, minExposure)
		// Read before the Service goes: the entries are keyed by its NodePort.
		var err error
		if o.Residue, err = r.residue(ctx, o.Targets, svc.NodePort); err != nil {
			r.env.Logf("conntrack residue on the nodes not read: %v", err)
		}
	}
	return o
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

// loadFor lets the load run for d (the baseline or the tail): the load's
// pacing, not a wait for a state, so it is a timer rather than lab/wait.
func loadFor(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
