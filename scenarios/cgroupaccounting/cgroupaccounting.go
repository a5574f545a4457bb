// Package cgroupaccounting is the runbook of scenario `cgroup-accounting`:
// what `free` and `top` show inside a container versus what the kernel and
// the kubelet count for it (the seed article: "free inside the container
// shows the host's memory, the limit is 500Mi").
//
// Steps, top to bottom:
//  1. prepare: the chaos-mesh addon; the seed's pod (requests 200Mi, limits
//     500Mi), an un-injected control with the same resources, and a
//     Guaranteed and a BestEffort pod, all on one worker;
//  2. pitfall: /proc/meminfo and `free` inside the app container report the
//     host's memory (the node's capacity, within 1 %), not its 500Mi limit;
//  3. fix: the cgroup files report the container: its limit is 500Mi from
//     inside and from the node; with page cache in the container (a file
//     written in it) the kubelet's working_set (summary API) equals
//     usage − inactive_file of the container's cgroup within
//     WorkingSetTolerance and is clearly below usage, on cgroup v1
//     (memory.usage_in_bytes, total_inactive_file) or v2 (memory.current,
//     inactive_file); a StressChaos of StressSize grows the app's working
//     set by StressSize ± GrowthTolerance relative to the control (printed
//     in MB and MiB: "did not reach the size" reports are often a units
//     mix-up);
//  4. beyond the limit: a StressChaos of OOMStressSize (> the limit) gives a
//     cgroup OOM kill, not an eviction: the cgroup's oom_kill counter grows,
//     and the victim is the one the kernel's rules predict from the
//     processes' oom_score_adj and memory.oom.group. With the stressor at
//     oom_score_adj 1000 the stressor dies and the app keeps running (on
//     cgroup v2 with memory.oom.group=1 the whole container is OOMKilled);
//     with −1000 (Chaos Mesh's "always kill the target") the app container
//     is OOMKilled, exit 137 — where chaos-daemon lacks CAP_SYS_RESOURCE
//     (this VM) that case is not applicable and says so;
//  5. QoS: each pod's class and the oom_score_adj the kubelet asked for on
//     its main process (Guaranteed −997, BestEffort 1000, Burstable
//     1000 − 1000·request/capacity); a host that clamps negative values (as
//     the nodelab VMs do: containerd's restrict_oom_score_adj) is detected
//     and reported, not failed;
//  6. no stressor is left on any node, and the app's working set is back
//     near its baseline.
//
// Host requirements: node access (cgroup files are read on the node: kind
// node containers through Docker, or node agent pods), ≥ 1 worker. Typical: ~75s (chaos-mesh already installed).
package cgroupaccounting

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/chaosmesh"
	"github.com/nodelab/nodelab/lab/instruments/chaos"
	"github.com/nodelab/nodelab/lab/instruments/meminfo"
	"github.com/nodelab/nodelab/lab/instruments/timeline"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "cgroup-accounting",
		Summary:  "pitfall: free and /proc/meminfo in a 500Mi container show the host's memory; fix: the cgroup files and the kubelet's working_set (usage − inactive_file) tell the truth; OOM kill vs eviction; QoS oom_score_adj",
		Labels:   []scenarios.Label{scenarios.Slow},
		Needs:    []scenarios.Need{scenarios.NodeAccess},
		Requires: []string{"node access (cgroup files are read on the node)", "≥ 1 worker"},
		Typical:  75 * time.Second,
		Addons:   []string{chaosmesh.Name},
		Shard:    "memory",
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "prepare: chaos-mesh, the 200Mi/500Mi app, its control, a Guaranteed and a BestEffort pod", Timeout: Timeouts.Prepare, Typical: 25 * time.Second, Run: r.Prepare},
				{Side: scenarios.Pitfall, Name: "pitfall: free and /proc/meminfo in a 500Mi container report the host's memory", Timeout: Timeouts.Read, Typical: time.Second, Run: r.PitfallMeminfoShowsHost},
				{Side: scenarios.Fix, Name: "fix: the cgroup files report the container; kubelet working_set = usage − inactive_file; a StressChaos grows it by its size", Timeout: Timeouts.Stress, Typical: 8 * time.Second, Run: r.withTimeline(r.FixCgroupTellsTheTruth)},
				{Side: scenarios.Check, Name: "beyond the limit: a cgroup OOM kill (not an eviction); stressor at oom_score_adj 1000 is the victim", Timeout: Timeouts.Stress, Typical: 17 * time.Second, Run: r.withTimeline(r.BeyondLimitStressorKilled)},
				{Side: scenarios.Check, Name: "beyond the limit: stressor at oom_score_adj −1000, the app container is OOMKilled (exit 137)", Timeout: Timeouts.Stress, Run: r.withTimeline(r.BeyondLimitAppKilled)},
				{Side: scenarios.Check, Name: "QoS classes and the oom_score_adj the kubelet asked for (clamping reported)", Timeout: Timeouts.Read, Typical: 3 * time.Second, Run: r.QoSAndOOMScoreAdj},
				{Side: scenarios.Check, Name: "leaves no stressor process on any node; the app's memory is back to its baseline", Timeout: Timeouts.NoStressorLeft, Typical: 13 * time.Second, Run: r.NoStressorLeft},
			},
			Cleanup: scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env       scenarios.Env
	Lab       *lab.Lab
	Addons    addon.Options
	Namespace string
	Node      string

	node     nodeexec.Node
	version  nodeexec.CgroupVersion
	chaos    client.Client
	pods     map[string]*corev1.Pod
	cgroups  map[string]string // pod name → container memory cgroup dir
	baseline nodeexec.MemoryStats
	rec      *timeline.Recorder
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook {
	return &Runbook{env: env, Lab: env.Lab, Addons: env.Addons}
}

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// Prepare installs Chaos Mesh and starts the pods on one worker.
func (r *Runbook) Prepare(ctx context.Context) error {
	if err := r.Lab.NodeAccess(); err != nil {
		return scenarios.Skipf("requires node access: cgroup files are read on the node; measured on %s: %v", r.Lab.Name, err)
	}
	if err := r.pickWorker(); err != nil {
		return err
	}
	var err error
	if r.version, err = nodeexec.DetectCgroupVersion(ctx, r.node); err != nil {
		return err
	}
	ns, err := chaosmesh.ChaosNamespace(ctx, r.Lab, r.Addons, "nodelab-cgroup-accounting")
	if err != nil {
		return err
	}
	r.Namespace = ns
	if r.chaos, err = chaos.Client(r.Lab); err != nil {
		return err
	}
	if err := r.startPods(ctx); err != nil {
		return err
	}
	r.rec = timeline.NewRecorder("cgroup-accounting: app (200Mi/500Mi) vs control on "+r.Node, "MiB", time.Now())
	r.env.Logf("pods on %s (%s); app's cgroup: %s", r.Node, r.version, r.cgroups["app"])
	return nil
}

// PitfallMeminfoShowsHost: inside the 500Mi container, /proc/meminfo and
// free report the host's memory.
func (r *Runbook) PitfallMeminfoShowsHost(ctx context.Context) error {
	out, err := r.exec(ctx, "app", "cat", "/proc/meminfo")
	if err != nil {
		return err
	}
	info, err := meminfo.Parse(out)
	if err != nil {
		return fmt.Errorf("/proc/meminfo in the app container: %w", err)
	}
	capacity, err := r.nodeMemory(ctx)
	if err != nil {
		return err
	}
	freeOut, freeErr := r.exec(ctx, "app", "free", "-b")
	if freeErr != nil {
		freeOut, freeErr = r.exec(ctx, "app", "busybox", "free", "-b")
	}
	r.env.Logf("inside the app container (limit %s): /proc/meminfo MemTotal %s; node capacity %s", matchers.Bytes(Limit), matchers.Bytes(int64(info["MemTotal"])), matchers.Bytes(capacity))
	return wait.Check(func(g gomega.Gomega) {
		total := int64(info["MemTotal"])
		g.Expect(float64(total)).To(gomega.BeNumerically("~", float64(capacity), 0.01*float64(capacity)),
			"MemTotal in the container is the host's (the node's capacity, within 1%%), not the container's")
		g.Expect(total).To(gomega.BeNumerically(">", 4*Limit), "MemTotal %s is nowhere near the %s limit", matchers.Bytes(total), matchers.Bytes(Limit))
		g.Expect(freeErr).NotTo(gomega.HaveOccurred(), "free runs in the container")
		freeTotal, err := freeMemTotal(freeOut)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		r.env.Logf("free -b in the container: total %s", matchers.Bytes(freeTotal))
		g.Expect(freeTotal).To(gomega.BeNumerically("~", total, total/100), "free reads the same /proc/meminfo")
	})
}

// FixCgroupTellsTheTruth: the cgroup files report the container, the
// kubelet's working_set is usage − inactive_file, and a StressChaos of
// StressSize shows up as StressSize of working set.
func (r *Runbook) FixCgroupTellsTheTruth(ctx context.Context) error {
	if err := r.checkCgroupReportsContainer(ctx); err != nil {
		return err
	}
	return r.checkStressGrowth(ctx)
}

// checkCgroupReportsContainer: the limit inside and from the node is the
// container's, and with page cache in the container the kubelet's
// working_set is usage − inactive_file, well below usage.
func (r *Runbook) checkCgroupReportsContainer(ctx context.Context) error {
	limit, file, err := r.containerLimit(ctx)
	if err != nil {
		return err
	}
	// Page cache in the container: written, synced, then reclaimable.
	if _, err := r.exec(ctx, "app", "sh", "-c", fmt.Sprintf("dd if=/dev/zero of=/tmp/page-cache bs=1048576 count=%d 2>/dev/null && sync", PageCacheSize>>20)); err != nil {
		return fmt.Errorf("write page cache in the app container: %w", err)
	}
	return wait.Check(func(g gomega.Gomega) {
		g.Expect(limit).To(gomega.Equal(int64(Limit)), "%s inside the container is its limit", file)
		m, err := r.memory(ctx, "app")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(m.Limit).To(gomega.Equal(uint64(Limit)), "the node's view of the container's cgroup: %s", m)
		g.Expect(m.InactiveFile).To(gomega.BeNumerically(">=", PageCacheSize/2), "the file written in the container is inactive page cache in its cgroup: %s", m)
		g.Eventually(ctx, r.workingSetReading).WithTimeout(r.env.Scaled(Timeouts.WorkingSet)).WithPolling(r.t().Poll).
			Should(matchers.HaveWorkingSetWithin(WorkingSetTolerance), "kubelet working_set = usage − inactive_file")
		reading, err := r.workingSetReading(ctx)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(reading.Usage-reading.WorkingSet).To(gomega.BeNumerically(">=", PageCacheSize/2),
			"working_set leaves the page cache out, so it is well below usage (the number `kubectl top` shows is not memory.usage)")
		r.env.Logf("app: usage %s, inactive_file %s, kubelet working_set %s (%s)", matchers.Bytes(reading.Usage), matchers.Bytes(reading.InactiveFile), matchers.Bytes(reading.WorkingSet), r.version)
	})
}

// checkStressGrowth: a StressChaos of StressSize grows the app's working
// set by StressSize ± GrowthTolerance relative to the control.
func (r *Runbook) checkStressGrowth(ctx context.Context) error {
	appBefore, ctlBefore, err := r.pair(ctx)
	if err != nil {
		return err
	}
	r.baseline = appBefore
	key, err := r.stress(ctx, "app-stress", StressSize, 0)
	if err != nil {
		return err
	}
	defer r.deleteChaos(ctx, key)
	want := float64(StressSize)
	var growth float64
	return wait.Check(func(g gomega.Gomega) {
		g.Eventually(ctx, func(ctx context.Context) (float64, error) {
			app, ctl, err := r.pair(ctx)
			growth = float64(int64(app.WorkingSet)-int64(ctl.WorkingSet)) - float64(int64(appBefore.WorkingSet)-int64(ctlBefore.WorkingSet))
			return growth, err
		}).WithTimeout(r.env.Scaled(Timeouts.Growth)).WithPolling(r.t().Poll).Should(gomega.BeNumerically("~", want, GrowthTolerance),
			func() string {
				return fmt.Sprintf("the app's working set grows by the injected %s relative to the control (grew %s)", matchers.Bytes(StressSize), matchers.Bytes(int64(growth)))
			})
		r.env.Logf("StressChaos size %s: the app's working set grew %s relative to the control (tolerance ±%s)", matchers.Bytes(StressSize), matchers.Bytes(int64(growth)), matchers.Bytes(GrowthTolerance))
	})
}

// BeyondLimitStressorKilled: stress past the limit with the stressor's
// oom_score_adj at 1000 is a cgroup OOM kill of the stressor (or, where
// memory.oom.group is set, of the whole container), not an eviction.
func (r *Runbook) BeyondLimitStressorKilled(ctx context.Context) error {
	return r.beyondLimit(ctx, "app-oom", 1000)
}

// BeyondLimitAppKilled: with the stressor at oom_score_adj −1000 (Chaos
// Mesh's "always kill the target container") the kernel kills the app: the
// container is OOMKilled (exit 137) and restarts. Lowering oom_score_adj
// needs CAP_SYS_RESOURCE in chaos-daemon; a host without it is detected
// and the step is not applicable there.
func (r *Runbook) BeyondLimitAppKilled(ctx context.Context) error {
	if ok, why, err := r.daemonCanLowerOOMScoreAdj(ctx); err != nil {
		return err
	} else if !ok {
		return scenarios.Skipf("%s, so the kernel refuses oom_score_adj −1000 for the stressor (choom -n -1000 fails and the injection never starts)", why)
	}
	return r.beyondLimit(ctx, "app-oom-protected-stressor", -1000)
}

// QoSAndOOMScoreAdj checks each pod's QoS class and the oom_score_adj the
// kubelet asked for on its main process, reporting a host that clamps
// negative values.
func (r *Runbook) QoSAndOOMScoreAdj(ctx context.Context) error {
	capacity, err := r.nodeMemory(ctx)
	if err != nil {
		return err
	}
	runtimeAdj, err := r.containerdOOMScoreAdj(ctx)
	if err != nil {
		return err
	}
	want := kubeletAsks(capacity)
	var problems []string
	for _, name := range []string{"guaranteed", "app", "besteffort"} {
		found, err := r.checkQoS(ctx, name, want[name], runtimeAdj)
		if err != nil {
			return err
		}
		problems = append(problems, found...)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// NoStressorLeft: no stressor on any node, and the app's working set is
// back near its baseline.
func (r *Runbook) NoStressorLeft(ctx context.Context) error {
	if err := r.Lab.NodeAccess(); err != nil {
		return scenarios.Skipf("requires node access (stressor processes are listed on every node); measured on %s: %v", r.Lab.Name, err)
	}
	if err := chaos.CheckNoStressors(ctx, r.Lab, r.env.Scaled(Timeouts.StressorsGone)); err != nil {
		return err
	}
	if r.baseline.Version == 0 {
		return nil
	}
	return wait.Check(func(g gomega.Gomega) {
		g.Eventually(ctx, func(ctx context.Context) (uint64, error) {
			m, err := r.memory(ctx, "app")
			return m.WorkingSet, err
		}).WithTimeout(r.env.Scaled(Timeouts.Baseline)).WithPolling(r.t().Poll).Should(gomega.BeNumerically("<=", r.baseline.WorkingSet+8<<20),
			"the app's working set is back near its baseline %s", matchers.Bytes(int64(r.baseline.WorkingSet)))
	})
}

// Cleanup deletes the chaos and the namespace.
func (r *Runbook) Cleanup(ctx context.Context) error {
	if r.Namespace == "" {
		return nil
	}
	var errs []error
	if r.chaos != nil {
		errs = append(errs, chaos.DeleteAll(ctx, r.chaos, r.Namespace, r.env.Scaled(Timeouts.ChaosDelete)))
	}
	errs = append(errs, r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup))
	return errors.Join(errs...)
}
