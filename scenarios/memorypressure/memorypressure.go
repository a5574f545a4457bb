// Package memorypressure is the runbook of scenario `memory-pressure`: the
// kubelet evicts pods by QoS and priority, not by who uses the memory.
//
// Every kind node reports the host's whole memory as capacity, so a fixed
// eviction threshold never fires in a lab. Like the kubelet's own e2e_node
// eviction tests, the runbook measures one worker's memory.available from
// the summary API and sets that worker's evictionHard memory.available to
// (measured − Headroom), by rewriting its kubelet config and restarting the
// kubelet (lab/kubelet.Tune); it is restored after the scenario.
//
// Why the hog has a priority class: the kubelet takes the hard threshold out
// of the node's allocatable memory and re-admits its pods at restart, so
// after tuning the worker can only hold pods whose requests add up to about
// its working set plus Headroom. A hog whose usage stays within its
// requests would need requests above Headroom: it cannot fit. So the hog
// exceeds its small request, like every pod under pressure here, and the
// kubelet's second ranking key decides: lower priority is evicted first.
//
// Steps, top to bottom:
//  1. prepare: the chaos-mesh addon, a namespace open to chaos, the hog's
//     PriorityClass; pick a worker; refuse to run (Skip, with the numbers)
//     when the host or the worker lacks NeedBytes; tune the worker's kubelet
//     (threshold = available − Headroom, pressure transition period
//     TransitionPeriod) and check the threshold alone does not fire;
//  2. pitfall: a BestEffort app (8 MiB) next to the hog; StressChaos makes
//     the hog use HogStress: the node reports MemoryPressure, gets the
//     memory-pressure NoSchedule taint, and the app is evicted first (phase
//     Failed, reason Evicted, a message naming memory, an Evicted event);
//  3. fix: the same app with requests == limits (Guaranteed), an untouched
//     Guaranteed control, a BestEffort pod and a pod over its request
//     (OverRequestStress against 32Mi) next to the hog; the pods that must
//     rank as over their requests get there, and the summary API shows it,
//     before the node crosses the threshold (the kubelet ranks by pod stats
//     that lag the node's by up to ~15 s, and evicts every second or two,
//     so otherwise the hog ranks as within its request and the Guaranteed
//     pods go before it, seen in the first run); the kubelet evicts
//     over-request, then BestEffort, then the hog (the order asserted), the
//     Guaranteed pods keep running and never restart; once the hog is gone
//     MemoryPressure clears and stays clear (StableFor), and a new pod starts
//     on the worker;
//  4. no stressor is left: no memStress or stress-ng process on any node.
//
// Host requirements: node access (kind node containers through Docker, or
// node agent pods), ≥ 1 worker, NeedBytes of free memory. Typical: ~4m30s (two kubelet
// restarts, two pressure episodes, each cleared and stable for 30s).
package memorypressure

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/chaosmesh"
	"github.com/nodelab/nodelab/lab/instruments/chaos"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

// Scenario is the catalog entry. BeforeAll-style setup prepares the worker;
// the disruptive kubelet restart makes every spec Serial.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "memory-pressure",
		Summary:  "pitfall: an 8 MiB BestEffort app is evicted first when a prioritised neighbour's StressChaos causes MemoryPressure; fix: requests == limits (Guaranteed) survives while over-request and BestEffort pods go first, in the kubelet's order",
		Labels:   []scenarios.Label{scenarios.Slow, scenarios.Disruptive},
		Needs:    []scenarios.Need{scenarios.NodeAccess, scenarios.NodeChanges},
		Requires: []string{"node access (the kubelet is reconfigured and restarted)", "≥ 1 worker", fmt.Sprintf("%d MiB free host memory", NeedBytes>>20)},
		Typical:  265 * time.Second,
		Addons:   []string{chaosmesh.Name},
		Shard:    "memory",
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "prepare: chaos-mesh, a worker with a measured eviction threshold", Timeout: Timeouts.Prepare, Typical: 40 * time.Second, Run: r.Prepare},
				{Side: scenarios.Pitfall, Name: "pitfall: an 8 MiB BestEffort app is evicted first when a prioritised neighbour causes MemoryPressure", Timeout: Timeouts.Pitfall, Typical: 80 * time.Second, Run: r.PitfallBestEffortEvicted},
				{Side: scenarios.Fix, Name: "fix: requests == limits survives; over-request, BestEffort, then the hog are evicted; pressure clears and stays clear", Timeout: Timeouts.Fix, Typical: 126 * time.Second, Run: r.FixGuaranteedSurvives},
				{Side: scenarios.Check, Name: "leaves no stressor process on any node", Timeout: Timeouts.NoStressorLeft, Typical: 16 * time.Second, Run: r.NoStressorLeft},
			},
			Cleanup: scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env    scenarios.Env
	Lab    *lab.Lab
	Addons addon.Options
	// Namespace is created by Prepare.
	Namespace string
	// Node is the tuned worker; Threshold its evictionHard memory.available.
	Node      string
	Threshold uint64
	// Available is the worker's memory.available measured before tuning.
	Available uint64

	node           nodeexec.Node
	chaos          client.Client
	restoreKubelet func(context.Context) error
	createdPC      bool
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook {
	return &Runbook{env: env, Lab: env.Lab, Addons: env.Addons}
}

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// Prepare installs Chaos Mesh, creates the namespace and priority class,
// picks and tunes a worker.
func (r *Runbook) Prepare(ctx context.Context) error {
	if err := r.Lab.NodeAccess(); err != nil {
		return scenarios.Skipf("requires node access: the worker's kubelet is reconfigured and restarted; measured on %s: %v", r.Lab.Name, err)
	}
	node, err := r.pickWorker(ctx)
	if err != nil {
		return err
	}
	r.Node = node.String()
	r.node = node
	if err := r.measureWorker(ctx); err != nil {
		return err
	}

	if r.Namespace, err = chaosmesh.ChaosNamespace(ctx, r.Lab, r.Addons, "nodelab-memory-pressure"); err != nil {
		return err
	}
	if r.chaos, err = chaos.Client(r.Lab); err != nil {
		return err
	}
	if err := r.createPriorityClass(ctx); err != nil {
		return err
	}
	restore, err := kubelet.Tune(ctx, kubelet.TuneOptions{Client: r.Lab.Client, Node: node, Timeout: r.t().NodeReady, Log: r.env.Logf}, kubelet.Tuning{
		EvictionHard:                     map[string]string{"memory.available": fmt.Sprintf("%dKi", r.Threshold>>10)},
		EvictionPressureTransitionPeriod: TransitionPeriod,
	})
	r.restoreKubelet = restore
	if err != nil {
		return err
	}
	// Negative control: the threshold alone must not fire.
	return wait.Check(func(g gomega.Gomega) {
		g.Consistently(ctx, r.getNode).WithTimeout(quietFor).WithPolling(r.t().Poll).
			ShouldNot(matchers.HaveNodeCondition(corev1.NodeMemoryPressure, corev1.ConditionTrue), "the tuned threshold fires with no stress at all: the worker's memory is not steady")
	})
}

// PitfallBestEffortEvicted: a prioritised hog pushes the worker into
// MemoryPressure and the 8 MiB BestEffort app is the pod the kubelet evicts.
func (r *Runbook) PitfallBestEffortEvicted(ctx context.Context) error {
	if _, err := r.createPods(ctx, "memory-pressure/pitfall.yaml"); err != nil {
		return err
	}
	w := r.startWatch(ctx, "pitfall", "memory-pressure pitfall: node "+r.Node)
	defer func() { r.env.Timeline("memory", w.stop()) }()
	w.mark("inject", fmt.Sprintf("hog +%d MiB", HogStress>>20))
	key, err := r.stress(ctx, "pitfall-hog", map[string]string{labelSide: "pitfall", labelRole: "hog"}, HogStress)
	if err != nil {
		return err
	}
	defer r.deleteChaos(ctx, key, w)

	err = wait.Check(func(g gomega.Gomega) {
		g.Eventually(ctx, r.getPod("pitfall-app")).WithTimeout(r.env.Scaled(Timeouts.AppEvicted)).WithPolling(Timeouts.EvictionPoll).
			Should(matchers.BeEvictedFor("memory"), "the BestEffort app is evicted while the hog holds %d MiB", HogStress>>20)
		g.Eventually(ctx, func() bool { c, _ := w.sawPressure(); return c }).WithTimeout(r.env.Scaled(Timeouts.PressureReported)).WithPolling(Timeouts.EvictionPoll).
			Should(gomega.BeTrue(), "node %s reports MemoryPressure=True", r.Node)
		g.Eventually(ctx, func() bool { _, t := w.sawPressure(); return t }).WithTimeout(r.env.Scaled(Timeouts.PressureReported)).WithPolling(Timeouts.EvictionPoll).
			Should(gomega.BeTrue(), "node %s gets the %s:NoSchedule taint", r.Node, corev1.TaintNodeMemoryPressure)
		first := w.Evictions()
		g.Expect(first).NotTo(gomega.BeEmpty())
		g.Expect(first[0].Pod).To(gomega.Equal("pitfall-app"), "the first pod evicted is the 8 MiB BestEffort app, not the hog (order: %s)", w.order())
		g.Eventually(ctx, r.evictedEvent("pitfall-app")).WithTimeout(r.env.Scaled(Timeouts.EvictedEvent)).WithPolling(r.t().Poll).
			Should(gomega.ContainSubstring("memory"), "an Evicted event for pitfall-app naming memory")
	})
	if err != nil {
		return err
	}
	r.env.Logf("pitfall: eviction order %s", w.order())
	// The hog is the next pod the kubelet ranks; once it is gone (or the
	// chaos ends) the pressure clears.
	return r.waitPressureCleared(ctx)
}

// waitPressureCleared waits until the worker has no MemoryPressure and no
// taint, then checks it stays clear for StableFor.
func (r *Runbook) waitPressureCleared(ctx context.Context) error {
	return wait.Check(func(g gomega.Gomega) {
		clear := gomega.And(
			matchers.HaveNodeCondition(corev1.NodeMemoryPressure, corev1.ConditionFalse),
			gomega.Not(matchers.HaveTaint(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)))
		g.Eventually(ctx, r.getNode).WithTimeout(r.env.Scaled(Timeouts.PressureCleared)).WithPolling(r.t().Poll).Should(clear, "MemoryPressure clears on %s", r.Node)
		g.Consistently(ctx, r.getNode).WithTimeout(StableFor).WithPolling(r.t().Poll).Should(clear, "MemoryPressure stays clear on %s for %s", r.Node, StableFor)
	})
}

// FixGuaranteedSurvives: with requests == limits the app survives the same
// hog; the kubelet evicts over-request, BestEffort, then the hog.
func (r *Runbook) FixGuaranteedSurvives(ctx context.Context) error {
	pods, err := r.createPods(ctx, "memory-pressure/fix.yaml")
	if err != nil {
		return err
	}
	starts := map[string]types.UID{}
	for _, p := range pods {
		starts[p.Name] = p.UID
	}
	if err := wait.Check(func(g gomega.Gomega) {
		for _, name := range []string{"fix-app", "fix-control"} {
			p, _ := r.getPod(name)(ctx)
			g.Expect(p.Status.QOSClass).To(gomega.Equal(corev1.PodQOSGuaranteed), "%s is Guaranteed (requests == limits)", name)
		}
		p, _ := r.getPod("fix-besteffort")(ctx)
		g.Expect(p.Status.QOSClass).To(gomega.Equal(corev1.PodQOSBestEffort))
	}); err != nil {
		return err
	}
	if err := r.checkHeadroomLeft(ctx, OverRequestStress+HogBaseStress); err != nil {
		return err
	}
	w := r.startWatch(ctx, "fix", "memory-pressure fix: node "+r.Node)
	defer func() { r.env.Timeline("memory", w.stop()) }()

	// The kubelet ranks pods by the summary API's pod stats, which lag the
	// node's by up to ~15 s, and evicts every second or two. So each pod
	// that must rank as "over its request" gets there before the node
	// crosses the threshold, and the stats are seen to show it: the
	// over-request pod, then the hog's first HogBaseStress; only then the
	// rest of the hog's stress tips the node over.
	keys, err := r.rampUp(ctx, w)
	defer r.deleteChaosAll(ctx, keys, w)
	if err != nil {
		return err
	}
	if err := r.checkEvictionOrder(ctx, w); err != nil {
		return err
	}
	r.env.Logf("fix: eviction order %s", w.order())
	// The kubelet evicts before its next node status update (every ~10 s)
	// reports the condition: see MemoryPressure=True first, or "clears"
	// would be true before the pressure was ever reported.
	if err := wait.Check(func(g gomega.Gomega) {
		g.Eventually(ctx, func() bool { c, _ := w.sawPressure(); return c }).WithTimeout(r.env.Scaled(Timeouts.PressureReported)).WithPolling(Timeouts.EvictionPoll).
			Should(gomega.BeTrue(), "node %s reports MemoryPressure=True", r.Node)
	}); err != nil {
		return err
	}
	if err := r.waitPressureCleared(ctx); err != nil {
		return err
	}
	if err := r.checkGuaranteedLived(ctx, starts); err != nil {
		return err
	}
	return r.newPodStarts(ctx)
}

// checkEvictionOrder waits until the watch has seen over-request,
// BestEffort and the hog evicted, and checks that order and that no
// Guaranteed pod went.
func (r *Runbook) checkEvictionOrder(ctx context.Context, w *watch) error {
	want := []string{"fix-over-request", "fix-besteffort", "fix-hog"}
	return wait.Check(func(g gomega.Gomega) {
		g.Eventually(ctx, func() []string { got, _ := w.evictedAmong(want); return got }).WithTimeout(r.env.Scaled(Timeouts.EvictionOrder)).WithPolling(Timeouts.EvictionPoll).Should(gomega.HaveLen(len(want)), "over-request, BestEffort and the hog are evicted (so far: %s)", w.order())
		got, guaranteed := w.evictedAmong(want)
		g.Expect(guaranteed).To(gomega.BeEmpty(), "no Guaranteed pod is evicted (order %s)", w.order())
		g.Expect(got).To(gomega.Equal(want), "the kubelet's ranking: over its request by the most first, BestEffort next, the higher-priority hog last")
		for _, name := range want {
			p, _ := r.getPod(name)(ctx)
			g.Expect(p).To(matchers.BeEvictedFor("memory"))
		}
	})
}

// checkGuaranteedLived checks that the Guaranteed pods lived through it
// all: same pod (UID as created), running, no restart.
func (r *Runbook) checkGuaranteedLived(ctx context.Context, starts map[string]types.UID) error {
	return wait.Check(func(g gomega.Gomega) {
		for _, name := range []string{"fix-app", "fix-control"} {
			p, err := r.getPod(name)(ctx)
			g.Expect(err).NotTo(gomega.HaveOccurred())
			g.Expect(p.UID).To(gomega.Equal(starts[name]))
			g.Expect(p.Status.Phase).To(gomega.Equal(corev1.PodRunning), "%s keeps running", name)
			g.Expect(p.Status.ContainerStatuses).To(gomega.HaveEach(gomega.HaveField("RestartCount", gomega.BeZero())), "%s never restarted", name)
		}
	})
}

// NoStressorLeft checks that no memStress or stress-ng process runs on
// any node of the lab.
func (r *Runbook) NoStressorLeft(ctx context.Context) error {
	if err := r.Lab.NodeAccess(); err != nil {
		return scenarios.Skipf("requires node access (stressor processes are listed on every node); measured on %s: %v", r.Lab.Name, err)
	}
	return chaos.CheckNoStressors(ctx, r.Lab, r.env.Scaled(Timeouts.StressorsGone))
}

// Cleanup deletes the chaos and the namespace, the priority class, and
// restores the worker's kubelet.
func (r *Runbook) Cleanup(ctx context.Context) error {
	var errs []error
	if r.Namespace != "" {
		if r.chaos != nil {
			errs = append(errs, chaos.DeleteAll(ctx, r.chaos, r.Namespace, r.env.Scaled(Timeouts.ChaosDeleted)))
		}
		errs = append(errs, r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup))
	}
	if r.createdPC {
		errs = append(errs, r.deletePriorityClass(ctx))
	}
	if r.restoreKubelet != nil {
		errs = append(errs, r.restoreKubelet(ctx))
	}
	return errors.Join(errs...)
}
