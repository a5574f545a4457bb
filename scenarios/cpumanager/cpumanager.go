// Package cpumanager is the runbook of scenario `cpu-manager`: switching a
// node's kubelet to the static CPU manager policy, and what the static
// policy then does with init containers' CPUs.
//
// Seeds: what most SREs meet first — changing cpuManagerPolicy from none
// to static without removing /var/lib/kubelet/cpu_manager_state leaves the
// kubelet unable to start (the checkpoint records the policy that wrote
// it); and "Reusable CPUs from initContainer were not being honored"
// (Kubernetes 1.18 with the TopologyManager enabled; fixed by
// kubernetes#93189 and #93289, refactored in #102014): a Guaranteed pod
// whose init and app containers each need every exclusive CPU left was
// refused, because the CPUs the init container had were not offered to the
// app container.
//
// Steps, top to bottom:
//  1. prepare (setup): undo what an interrupted run left on any worker (a
//     kubelet config backup, a cordon marked as this scenario's); pick the
//     schedulable worker with the fewest pods to evict; read
//     its CPUs (≥ 2 needed: one reserved, at least one exclusive), its
//     kubelet's /configz and CPU manager checkpoint (policy none, as
//     configured) and every pod container's cpuset (the whole node); drain
//     it (cordon, evict everything but DaemonSet and node agent pods: the
//     documented first step of a policy change).
//  2. pitfall: cpuManagerPolicy static (with kubeReserved cpu ReservedCPU
//     and topologyManagerPolicy TopologyPolicy) written into the kubelet's
//     config and the kubelet restarted, the checkpoint kept: the journal
//     shows the kubelet's exact refusal, and for StaysDown systemd
//     restarts it every second, no kubelet process lives longLived, and
//     every start is refused.
//  3. fix: the documented procedure: the node drained (checked), the
//     checkpoint removed, the kubelet restarted: /configz shows static,
//     the node is Ready, the new checkpoint's shared pool is every CPU;
//     the node is uncordoned.
//  4. check (the seed's): a Guaranteed pod whose init container and app
//     container each ask for every exclusive CPU the worker has left
//     (capacity − the reserved one) is admitted; the init container's
//     cpuset (from its own cgroup, written as its termination message)
//     and the app container's (from its cgroup on the node, v1 or v2) are
//     the same CPUs, which the checkpoint assigns to the app and the shared
//     pool no longer has; a Burstable pod's cpuset is the shared pool.
//  5. nothing left: the pods deleted, the CPUs back in the shared pool and
//     every container's cpuset the whole node again (the CPU manager's
//     reconcile loop), then the kubelet restored (checkpoint removed again:
//     static → none is a policy change too), and compared with what
//     prepare saw: config bytes, /configz, checkpoint, cpusets, cordon.
//
// What "exclusive" means here: the CPU manager pins containers within the
// CPUs its kubelet sees. Kind nodes are containers sharing the host's CPUs
// (2 on the workplace's hosts): every node's kubelet sees them all, so an
// exclusive CPU is exclusive among that worker's containers only; the
// other nodes' containers, the host and other workers' pods still run on
// it. The assertions are about what the kubelet assigns and the cgroups
// enforce, not about isolation from the host.
//
// Host requirements: node access (the kubelet is reconfigured and
// restarted); for the pitfall, the node containers through this host's
// Docker engine (the broken kubelet serves no node agent's exec); ≥ 1
// worker with ≥ 2 CPUs. Typical: ~40s (three kubelet restarts; the
// pitfall watches the kubelet stay down for 15 s).
package cpumanager

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/cpuset"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

const (
	// Policy is the CPU manager policy the worker is switched to, from
	// the kubelet's default "none".
	Policy = "static"
	// ReservedCPU is the worker's kubeReserved cpu. The static policy needs
	// a reservation above zero and keeps ceil(reservation) whole CPUs in
	// the shared pool: one here. 500m (rather than a whole CPU) leaves the
	// DaemonSets' requests room in allocatable next to the pinned pod.
	ReservedCPU = "500m"
	// reservedWhole is ceil(ReservedCPU): the CPUs no container gets
	// exclusively.
	reservedWhole = 1
	// TopologyPolicy enables the TopologyManager, as in the seed: the
	// CPU manager's hints (which count an init container's CPUs as
	// reusable) decide admission. best-effort rather than restricted: on a
	// multi-NUMA host, restricted would refuse a pod spanning NUMA nodes
	// for a reason that is not the one checked here.
	TopologyPolicy = "best-effort"
	// minRefusals is the fewest refused starts the pitfall accepts in
	// StaysDown (systemd restarts the kubelet about every 1.2 s).
	minRefusals = 5
)

// Refusal is the kubelet's message when the configured policy differs
// from its checkpoint's (pkg/kubelet/cm/cpumanager/state/state_checkpoint.go,
// Kubernetes v1.37.1).
func Refusal(configured, checkpointed string) string {
	return fmt.Sprintf("could not restore state from checkpoint: configured policy %q differs from state checkpoint policy %q, please drain this node and delete the CPU manager checkpoint file %q before restarting Kubelet",
		configured, checkpointed, kubelet.CPUManagerStatePath)
}

// Scenario is the catalog entry. Three kubelet restarts on a worker:
// Disruptive, so its specs run Serial.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "cpu-manager",
		Summary:  "pitfall: cpuManagerPolicy none → static with cpu_manager_state kept, the kubelet does not start; fix: drain, remove the checkpoint, restart; then a Guaranteed pod's app container gets the exclusive CPUs its init container had, a Burstable pod stays on the shared pool",
		Labels:   []scenarios.Label{scenarios.Disruptive},
		Needs:    []scenarios.Need{scenarios.NodeAccess, scenarios.NodeChanges},
		Requires: []string{"node access (the kubelet is reconfigured and restarted)", "for the pitfall, the node containers through this host's Docker engine (the kubelet does not start)", "≥ 1 worker with ≥ 2 CPUs"},
		Typical:  40 * time.Second,
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "prepare: a drained worker with cpuManagerPolicy none", Timeout: Timeouts.Prepare, Typical: time.Second, Run: r.Prepare},
				{Side: scenarios.Pitfall, Name: "pitfall: cpuManagerPolicy none → static with cpu_manager_state kept: the kubelet refuses to start", Timeout: Timeouts.Pitfall, Typical: 19 * time.Second, Run: r.PitfallCheckpointKept},
				{Side: scenarios.Fix, Name: "fix: drained, cpu_manager_state removed, restarted: the kubelet runs the static policy", Timeout: Timeouts.Fix, Typical: 3 * time.Second, Run: r.FixCheckpointRemoved},
				{Side: scenarios.Check, Name: "an app container reuses its init container's exclusive CPUs; a Burstable pod stays on the shared pool", Timeout: Timeouts.Check, Typical: 3 * time.Second, Run: r.CheckInitCPUsReused},
			},
			Cleanup:    scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
			LeakChecks: []scenarios.Step{{Side: scenarios.Check, Name: "leaves the worker as it was: kubelet config, policy none, every cpuset the whole node, schedulable", Timeout: Timeouts.LeftNothing, Run: r.LeftNothing}},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env scenarios.Env
	Lab *lab.Lab
	// Namespace is created by Prepare; Node is the worker.
	Namespace string
	Node      string

	node nodeexec.Node
	// allCPUs is the worker's whole cpuset (its root cgroup's), exclusive
	// the CPUs a pod may have to itself (capacity − reservedWhole).
	allCPUs   cpuset.CPUSet
	exclusive int
	// configBefore is the kubelet's config file as prepare found it.
	configBefore []byte
	// wasUnschedulable: the worker was cordoned before the scenario.
	wasUnschedulable bool
	cordoned         bool
	restoreKubelet   func(context.Context) error
	// pinnedCreated: the check created its pods (the shared pool must be
	// whole again before the restore).
	pinnedCreated bool
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook { return &Runbook{env: env, Lab: env.Lab} }

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// tuning is the worker's new kubelet configuration.
func tuning() kubelet.Tuning {
	return kubelet.Tuning{
		CPUManagerPolicy:      Policy,
		TopologyManagerPolicy: TopologyPolicy,
		KubeReserved:          map[string]string{string(corev1.ResourceCPU): ReservedCPU},
	}
}

func (r *Runbook) tuneOptions(resetState bool) kubelet.TuneOptions {
	return r.tuneOptionsFor(r.node, resetState)
}

func (r *Runbook) tuneOptionsFor(node nodeexec.Node, resetState bool) kubelet.TuneOptions {
	return kubelet.TuneOptions{Client: r.Lab.Client, Node: node, Timeout: r.t().NodeReady, ResetCPUManagerState: resetState, Log: r.env.Logf}
}

// Prepare picks and measures a worker, then drains it.
func (r *Runbook) Prepare(ctx context.Context) error {
	if err := r.repairInterrupted(ctx); err != nil {
		return err
	}
	node, err := r.pickWorker(ctx)
	if err != nil {
		return err
	}
	r.node, r.Node = node, node.String()
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	r.wasUnschedulable = n.Spec.Unschedulable
	cpus := int(n.Status.Capacity.Cpu().Value())
	if cpus < reservedWhole+1 {
		return scenarios.Skipf("needs a worker with ≥ %d CPUs (%d reserved, at least one exclusive); node %s has capacity cpu %d", reservedWhole+1, reservedWhole, r.Node, cpus)
	}
	r.exclusive = cpus - reservedWhole

	cz, err := kubelet.ReadConfigz(ctx, r.Lab.Client, r.Node)
	if err != nil {
		return err
	}
	if cz.CPUManagerPolicy != "none" {
		return scenarios.Skipf("the scenario switches the CPU manager from none to %s; node %s's kubelet runs cpuManagerPolicy %q already (/configz)", Policy, r.Node, cz.CPUManagerPolicy)
	}
	state, err := kubelet.ReadCPUManagerState(ctx, r.node)
	if err != nil {
		return err
	}
	if state == nil || state.PolicyName != "none" {
		return fmt.Errorf("node %s: the kubelet runs cpuManagerPolicy none but its checkpoint %s is %s", r.Node, kubelet.CPUManagerStatePath, describeState(state))
	}
	if err := r.readAllCPUs(ctx); err != nil {
		return err
	}
	if pinned := r.pinnedContainers(ctx); pinned != "" {
		return scenarios.Skipf("every container on %s should run on all of its CPUs (%s) under the none policy, to tell what the scenario leaves behind; measured: %s", r.Node, r.allCPUs, pinned)
	}
	// What the leak check compares with, once the scenario may change it.
	b, err := nodeexec.ReadFile(ctx, r.node, kubelet.ConfigPath)
	if err != nil {
		return err
	}
	r.configBefore = b
	if r.Namespace, err = r.Lab.CreateNamespace(ctx, "nodelab-cpu-manager"); err != nil {
		return err
	}
	r.env.Logf("worker %s: %d CPUs (%s), %d exclusive after kubeReserved cpu %s; cpuManagerPolicy none, checkpoint %s", r.Node, cpus, r.allCPUs, r.exclusive, ReservedCPU, describeState(state))
	return r.drain(ctx)
}

// PitfallCheckpointKept changes the policy the way it goes wrong: config
// rewritten, kubelet restarted, checkpoint left in place.
func (r *Runbook) PitfallCheckpointKept(ctx context.Context) error {
	if err := scenarios.NodeAccessWithoutKubelet(r.env, "with the policy changed and the checkpoint kept the kubelet does not start"); err != nil {
		return err
	}
	start := time.Now()
	restore, err := kubelet.Rewrite(ctx, r.tuneOptions(false), tuning())
	r.restoreKubelet = restore
	if err != nil {
		return err
	}
	want := Refusal(Policy, "none")
	var journal string
	err = wait.Until(ctx, wait.Within{What: "the kubelet's refusal in its journal on " + r.Node, Timeout: r.env.Scaled(Timeouts.Refused), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		j, err := kubelet.Journal(ctx, r.node, start)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		journal = unquote(j)
		g.Expect(journal).To(gomega.ContainSubstring(want), "last seen: %s", lastLines(journal, 3))
	})
	if err != nil {
		return err
	}
	refusedAfter := time.Since(start).Round(time.Second)
	r.env.Logf("the kubelet on %s refuses its checkpoint %s after the restart; watching it stay down for %s", r.Node, refusedAfter, Timeouts.StaysDown)
	// "Does not come back": no kubelet process lives long in the window.
	// (Its healthz is no measure: each failing start serves it for a
	// fraction of a second before the container manager fails.)
	err = wait.Holds(ctx, wait.Within{What: "no kubelet process on " + r.Node + " older than " + longLived.String() + ", the checkpoint still the none policy's", Timeout: r.env.Scaled(Timeouts.StaysDown), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		ages, err := nodeexec.Run(ctx, r.node, "sh", "-c", `for p in $(pidof kubelet); do ps -o etimes= -p "$p" || :; done`)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		for _, f := range strings.Fields(ages) {
			age, err := strconv.Atoi(f)
			g.Expect(err).NotTo(gomega.HaveOccurred(), "kubelet process age %q", f)
			g.Expect(time.Duration(age)*time.Second).To(gomega.BeNumerically("<", longLived), "a kubelet process has run for %ds: it came back", age)
		}
		state, err := kubelet.ReadCPUManagerState(ctx, r.node)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(state).NotTo(gomega.BeNil(), "the checkpoint is gone")
		g.Expect(state.PolicyName).To(gomega.Equal("none"), "the checkpoint's policy")
	})
	if err != nil {
		return err
	}
	j, err := kubelet.Journal(ctx, r.node, start)
	if err != nil {
		return err
	}
	// The refusal is logged twice per start (the CPU manager's error, then
	// the kubelet's "Failed to start ContainerManager"): count the latter,
	// and the starts systemd logged.
	refusals, starts := 0, 0
	for _, line := range strings.Split(unquote(j), "\n") {
		if strings.Contains(line, "Failed to start ContainerManager") && strings.Contains(line, want) {
			refusals++
		}
		if strings.HasPrefix(line, "Started kubelet.service") {
			starts++
		}
	}
	if refusals < minRefusals || refusals < starts-1 {
		return fmt.Errorf("the kubelet on %s started %d times in %s and refused its checkpoint %d times: want every start (but the one in progress) refused, at least %d", r.Node, starts, time.Since(start).Round(time.Second), refusals, minRefusals)
	}
	r.env.Logf("kubelet journal on %s: %q (%d of %d starts in %s, none lived %s)", r.Node, want, refusals, starts, time.Since(start).Round(time.Second), longLived)
	r.env.Measure("kubelet refusal after the restart", refusedAfter.String())
	r.env.Measure("kubelet starts refused", fmt.Sprintf("%d of %d in %s", refusals, starts, time.Since(start).Round(time.Second)))
	return nil
}

// FixCheckpointRemoved follows the documented procedure.
func (r *Runbook) FixCheckpointRemoved(ctx context.Context) error {
	if err := r.checkDrained(ctx); err != nil {
		return err
	}
	start := time.Now()
	restore, err := kubelet.Tune(ctx, r.tuneOptions(true), tuning())
	if r.restoreKubelet == nil {
		r.restoreKubelet = restore
	}
	if err != nil {
		return err
	}
	back := time.Since(start).Round(time.Second)
	state, err := kubelet.ReadCPUManagerState(ctx, r.node)
	if err != nil {
		return err
	}
	if state == nil || state.PolicyName != Policy {
		return fmt.Errorf("node %s: /configz shows cpuManagerPolicy %s but the new checkpoint is %s", r.Node, Policy, describeState(state))
	}
	shared, err := state.Shared()
	if err != nil {
		return err
	}
	if !shared.Equals(r.allCPUs) || len(state.Entries) > 0 {
		return fmt.Errorf("node %s: with no pod pinned yet, the shared pool should be every CPU (%s); the checkpoint is %s", r.Node, r.allCPUs, describeState(state))
	}
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	r.env.Logf("kubelet on %s back with cpuManagerPolicy %s in %s: checkpoint %s; allocatable cpu %s of %s", r.Node, Policy, back, describeState(state), n.Status.Allocatable.Cpu(), n.Status.Capacity.Cpu())
	r.env.Measure("kubelet back with the static policy", back.String())
	return r.uncordon(ctx)
}

// CheckInitCPUsReused is the seed's check.
func (r *Runbook) CheckInitCPUsReused(ctx context.Context) error {
	pods, err := manifest.DecodePods(fixtures.FS, "cpu-manager/pods.yaml")
	if err != nil {
		return err
	}
	cpus := resource.NewQuantity(int64(r.exclusive), resource.DecimalSI)
	for i := range pods {
		if pods[i].Name != "pinned" {
			continue
		}
		for _, cs := range [][]corev1.Container{pods[i].Spec.InitContainers, pods[i].Spec.Containers} {
			for j := range cs {
				cs[j].Resources.Requests[corev1.ResourceCPU] = *cpus
				cs[j].Resources.Limits[corev1.ResourceCPU] = *cpus
			}
		}
	}
	r.pinnedCreated = true
	running, err := r.Lab.CreatePodsOn(ctx, r.Namespace, r.Node, images.AgnhostImage, pods, r.t().PodStart)
	if err != nil {
		return fmt.Errorf("a Guaranteed pod whose init and app containers each ask for the %d exclusive CPU(s) left, and a Burstable pod: %w", r.exclusive, err)
	}
	pinned, shared := running[0], running[1]
	if pinned.Status.QOSClass != corev1.PodQOSGuaranteed || shared.Status.QOSClass != corev1.PodQOSBurstable {
		return fmt.Errorf("QoS classes: pinned %s (want Guaranteed), shared %s (want Burstable)", pinned.Status.QOSClass, shared.Status.QOSClass)
	}
	initCPUs, err := initCpuset(&pinned)
	if err != nil {
		return err
	}
	appCPUs, err := r.containerCpuset(ctx, &pinned, "app")
	if err != nil {
		return err
	}
	state, err := kubelet.ReadCPUManagerState(ctx, r.node)
	if err != nil {
		return err
	}
	if state == nil {
		return fmt.Errorf("node %s has no CPU manager checkpoint", r.Node)
	}
	assigned, ok, err := state.Assigned(string(pinned.UID), "app")
	if err != nil {
		return err
	}
	pool, err := state.Shared()
	if err != nil {
		return err
	}
	switch {
	case initCPUs.Size() != r.exclusive:
		return fmt.Errorf("the init container ran on CPUs %s (from its cgroup): %d, not the %d exclusive CPU(s) it asked for", initCPUs, initCPUs.Size(), r.exclusive)
	case !appCPUs.Equals(initCPUs):
		return fmt.Errorf("the app container runs on CPUs %s, not on %s, the CPUs its init container had (every exclusive CPU the node had left): the init container's CPUs were not reused", appCPUs, initCPUs)
	case !ok || !assigned.Equals(appCPUs):
		return fmt.Errorf("the checkpoint assigns the app container %q, its cgroup says %s (checkpoint %s)", state.Entries[string(pinned.UID)]["app"], appCPUs, describeState(state))
	case !pool.Intersection(appCPUs).IsEmpty() || !pool.Union(appCPUs).Equals(r.allCPUs):
		return fmt.Errorf("the shared pool %s should be the node's CPUs %s without the app's %s", pool, r.allCPUs, appCPUs)
	}
	// A container created before the pinned pod's allocation runs on the
	// old shared pool until the CPU manager's reconcile loop updates it.
	var sharedCPUs cpuset.CPUSet
	err = wait.Until(ctx, wait.Within{What: "the Burstable pod's cpuset the shared pool " + pool.String(), Timeout: r.env.Scaled(Timeouts.Reconciled), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		got, err := r.containerCpuset(ctx, &shared, "app")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		sharedCPUs = got
		g.Expect(got.String()).To(gomega.Equal(pool.String()), "the Burstable container's cpuset (from its cgroup)")
	})
	if err != nil {
		return err
	}
	r.env.Logf("pinned pod: init container on CPUs %s (its own cgroup), app container on %s (its cgroup on %s, and the checkpoint); shared pool %s; Burstable container on %s",
		initCPUs, appCPUs, r.Node, pool, sharedCPUs)
	r.env.Measure("cpusets init / app / Burstable / shared pool", fmt.Sprintf("%s / %s / %s / %s of %s", initCPUs, appCPUs, sharedCPUs, pool, r.allCPUs))
	return nil
}

// Cleanup deletes the pods, waits until the CPU manager has given their
// CPUs back to every container, restores the kubelet (its checkpoint is
// removed again: static → none is a policy change too) and uncordons the
// worker.
func (r *Runbook) Cleanup(ctx context.Context) error {
	var errs []error
	if r.Namespace != "" {
		if err := r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup); err != nil {
			errs = append(errs, err)
		}
	}
	if r.pinnedCreated {
		// Under the none policy nothing would widen a container the
		// static policy narrowed: wait for it first. (Only the check's
		// pinned pod narrows them, and only a static kubelet that runs
		// creates it.)
		if err := r.waitSharedPoolWhole(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%w; the kubelet is restored anyway, and containers left narrowed stay so until they are recreated", err))
		}
	}
	if r.restoreKubelet != nil {
		if err := r.restoreKubelet(ctx); err != nil {
			errs = append(errs, err)
		} else {
			r.restoreKubelet = nil
		}
	}
	if err := r.uncordon(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitSharedPoolWhole waits until the checkpoint assigns nothing and every
// container on the worker runs on every CPU again.
func (r *Runbook) waitSharedPoolWhole(ctx context.Context) error {
	return wait.Until(ctx, wait.Within{What: "every CPU of " + r.Node + " back in the shared pool and in every container's cpuset", Timeout: r.env.Scaled(Timeouts.Reconciled), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		state, err := kubelet.ReadCPUManagerState(ctx, r.node)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(state).NotTo(gomega.BeNil())
		g.Expect(state.Entries).To(gomega.BeEmpty(), "exclusive assignments left in the checkpoint")
		g.Expect(state.DefaultCPUSet).To(gomega.Equal(r.allCPUs.String()), "the shared pool")
		g.Expect(r.pinnedContainers(ctx)).To(gomega.BeEmpty(), "containers on a subset of the CPUs")
	})
}

// LeftNothing compares the worker with what prepare saw.
func (r *Runbook) LeftNothing(ctx context.Context) error {
	if r.node == nil || r.configBefore == nil {
		return nil
	}
	var problems []string
	files, err := nodeexec.ReadFiles(ctx, r.node, kubelet.ConfigPath, kubelet.BackupPath)
	if err != nil {
		return err
	}
	if string(files[kubelet.ConfigPath]) != string(r.configBefore) {
		problems = append(problems, fmt.Sprintf("%s differs from before the scenario (%d vs %d bytes)", kubelet.ConfigPath, len(files[kubelet.ConfigPath]), len(r.configBefore)))
	}
	if _, ok := files[kubelet.BackupPath]; ok {
		problems = append(problems, kubelet.BackupPath+" is still there")
	}
	cz, err := kubelet.ReadConfigz(ctx, r.Lab.Client, r.Node)
	if err != nil {
		return err
	}
	if cz.CPUManagerPolicy != "none" || cz.TopologyManagerPolicy != "none" {
		problems = append(problems, fmt.Sprintf("/configz shows cpuManagerPolicy %q topologyManagerPolicy %q", cz.CPUManagerPolicy, cz.TopologyManagerPolicy))
	}
	state, err := kubelet.ReadCPUManagerState(ctx, r.node)
	if err != nil {
		return err
	}
	if state == nil || state.PolicyName != "none" {
		problems = append(problems, "the checkpoint is "+describeState(state))
	}
	if pinned := r.pinnedContainers(ctx); pinned != "" {
		problems = append(problems, "containers on a subset of the CPUs: "+pinned)
	}
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	if n.Spec.Unschedulable != r.wasUnschedulable {
		problems = append(problems, fmt.Sprintf("unschedulable=%t, was %t", n.Spec.Unschedulable, r.wasUnschedulable))
	}
	if len(problems) > 0 {
		return fmt.Errorf("worker %s after the scenario: %s", r.Node, strings.Join(problems, "; "))
	}
	return nil
}

// readAllCPUs reads the worker's whole cpuset: its root cgroup's.
func (r *Runbook) readAllCPUs(ctx context.Context) error {
	v, err := nodeexec.DetectCgroupVersion(ctx, r.node)
	if err != nil {
		return err
	}
	file := nodeexec.CpusetFile(v, "/")
	files, err := nodeexec.ReadFiles(ctx, r.node, file)
	if err != nil {
		return err
	}
	b, ok := files[file]
	if !ok {
		return scenarios.Skipf("the cpuset controller is not available to %s (%s has no %s): the containers' cpusets cannot be read", r.Node, v, file)
	}
	if r.allCPUs, err = cpuset.Parse(strings.TrimSpace(string(b))); err != nil {
		return fmt.Errorf("node %s: the root cgroup's cpuset %q: %w", r.Node, b, err)
	}
	return nil
}

// pinnedContainers lists the worker's pod containers whose cpuset is not
// the whole node ("" when none is); a read error is listed too.
func (r *Runbook) pinnedContainers(ctx context.Context) string {
	sets, _, err := nodeexec.PodCpusets(ctx, r.node)
	if err != nil {
		return err.Error()
	}
	var pinned []string
	for dir, cpus := range sets {
		if cpus != r.allCPUs.String() {
			pinned = append(pinned, fmt.Sprintf("%s on %q", dir, cpus))
		}
	}
	return strings.Join(pinned, ", ")
}

// containerCpuset reads a running container's cpuset from its cgroup.
func (r *Runbook) containerCpuset(ctx context.Context, p *corev1.Pod, container string) (cpuset.CPUSet, error) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != container {
			continue
		}
		s, err := nodeexec.ContainerCpuset(ctx, r.node, nodeexec.ContainerCgroup{QOS: p.Status.QOSClass, PodUID: string(p.UID), ContainerID: cs.ContainerID})
		if err != nil {
			return cpuset.New(), err
		}
		set, err := cpuset.Parse(s)
		if err != nil {
			return cpuset.New(), fmt.Errorf("pod %s container %s: cpuset %q: %w", p.Name, container, s, err)
		}
		return set, nil
	}
	return cpuset.New(), fmt.Errorf("pod %s has no container %s in its status", p.Name, container)
}

// initCpuset is what the init container wrote as its termination message:
// the cpuset of its own cgroup.
func initCpuset(p *corev1.Pod) (cpuset.CPUSet, error) {
	if len(p.Status.InitContainerStatuses) == 0 || p.Status.InitContainerStatuses[0].State.Terminated == nil {
		return cpuset.New(), fmt.Errorf("pod %s: its init container has not terminated", p.Name)
	}
	t := p.Status.InitContainerStatuses[0].State.Terminated
	msg := strings.TrimSpace(t.Message)
	if t.ExitCode != 0 {
		return cpuset.New(), fmt.Errorf("pod %s: the init container exited %d with message %q, not its cpuset", p.Name, t.ExitCode, msg)
	}
	set, err := cpuset.Parse(msg)
	if err != nil {
		return cpuset.New(), fmt.Errorf("pod %s: the init container's message %q is not a cpuset: %w", p.Name, msg, err)
	}
	return set, nil
}

func describeState(s *kubelet.CPUManagerState) string {
	if s == nil {
		return "missing"
	}
	return fmt.Sprintf("policy %q, shared pool %q, %d pod(s) with exclusive CPUs", s.PolicyName, s.DefaultCPUSet, len(s.Entries))
}

// unquote undoes the escaping of quotes in klog's structured values, so
// the journal compares with the kubelet's message as written.
func unquote(journal string) string { return strings.ReplaceAll(journal, `\"`, `"`) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
