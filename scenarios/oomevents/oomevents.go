// Package oomevents is the runbook of scenario `oom-events`: the two kinds
// of OOM kill and what reports them.
//
// Seed: a container over its own limit is killed in its own cgroup
// (OOMKilled); pods without proper requests push a node out of memory
// until the kernel's OOM killer picks victims. Both are watched through
// events (an exporter writing them to stdout, a log query counting
// reason="OOMKilling" per minute).
//
// Steps, top to bottom:
//  1. prepare (setup): undo a kubelet retuning an interrupted run left on
//     any worker; pick the schedulable worker with the fewest workload
//     pods; read its kubelet's /configz (cgroup driver and root, pods
//     allocatable enforced) and its pods cgroup (v1 or v2); start
//     node-problem-detector on it (its kernel monitor's OOMKilling rule
//     only: events, no node condition) and the event exporter (the
//     events API with a watch, one JSON line per event).
//  2. check, a container over its own limit: the kernel kills it in its
//     own pod's cgroup (oom_memcg: the pod's, hit before the container's equal limit), the pod
//     reports OOMKilled and exit 137 and the kubelet restarts it; each
//     kernel kill has node-problem-detector's OOMKilling event, while the
//     kubelet's own events (Started, BackOff) never say OOM.
//  3. pitfall: the worker's pods cgroup is given a limit through node
//     allocatable (kubeReserved memory: the limit is what the pods use now
//     plus 2 × BurstSize + LimitHeadroom; evictionHard memory.available
//     EvictionThreshold), so the host's memory is never at stake; three
//     replicas without requests (BestEffort: the scheduler places all
//     three) each allocate BurstSize at the same moment → the kernel's OOM
//     killer kills in the pods cgroup (oom_memcg), choosing BestEffort
//     victims (oom_score_adj 1000); the pods report OOMKilled; the kubelet
//     evicts only afterwards, and records no SystemOOM node event (it
//     records one only when the whole machine is out of memory, the root
//     memory cgroup).
//  4. fix: the same burst with requests (computed so that two replicas
//     fit in allocatable and the third does not): the scheduler leaves the
//     third Pending (Insufficient memory), and the kernel kills nothing;
//     where the requests are below what the replicas use, the kubelet's
//     eviction threshold (between allocatable and the cgroup's limit)
//     evicts one first.
//  5. nothing left: the kubelet restored, the namespace,
//     node-problem-detector and its binding deleted, and compared with what prepare saw:
//     config bytes, /configz, the pods cgroup's limit, allocatable.
//
// Kind nodes read the host's kernel log (/dev/kmsg is not namespaced):
// every node's node-problem-detector would report every kill on the host,
// so it runs on the scenario's worker only, and kernel kills are matched
// to the scenario's pods by their cgroup paths.
//
// Host requirements: node access (the kubelet is retuned and restarted,
// the kernel log and cgroups are read), a worker; BurstSize × 3 of
// memory for a moment (the pods cgroup's limit bounds it).
// Typical: ~2 min.
package oomevents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

const (
	// BurstSize is what each burst replica allocates and touches.
	BurstSize = 500 << 20
	// Replicas is the burst's replica count; the pods cgroup's limit fits
	// two of them.
	Replicas = 3
	// LimitHeadroom is the pods cgroup's limit above what the pods used
	// at prepare plus two replicas: two fit under the limit, three do not.
	LimitHeadroom = 200 << 20
	// EvictionThreshold is the worker's evictionHard memory.available
	// during the scenario: allocatable is the pods cgroup's limit minus
	// it, and the kubelet evicts when the pods' working set comes within
	// it of the limit.
	EvictionThreshold = "300Mi"
	// minRequest is the smallest per-replica request the fix accepts (the
	// worker's allocatable minus what its pods request, over two).
	minRequest = 64 << 20
)

// Scenario is the catalog entry: it retunes and restarts a worker's
// kubelet and fills its pods cgroup, so it is Disruptive (Serial).
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "oom-events",
		Summary:  "a container over its limit is OOMKilled in its own cgroup; pitfall: replicas without requests burst past the node's pod memory, the kernel OOM-kills BestEffort pods before the kubelet evicts; fix: requests, so the scheduler refuses what does not fit and the kubelet evicts before the kernel kills; kills counted per minute from node-problem-detector's OOMKilling events",
		Labels:   []scenarios.Label{scenarios.Disruptive, scenarios.Slow},
		Needs:    []scenarios.Need{scenarios.NodeAccess, scenarios.NodeChanges},
		Requires: []string{"node access (the kubelet is retuned and restarted; the kernel log and cgroups are read)", "a worker", "1.5 GiB of memory for a moment (bounded by the pods cgroup's limit)"},
		Typical:  2 * time.Minute,
		Images:   []images.Image{images.NodeProblemDetector()},
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "prepare: a worker, its pods cgroup, node-problem-detector and the event exporter", Timeout: Timeouts.Prepare, Typical: 10 * time.Second, Run: r.Prepare},
				{Side: scenarios.Check, Name: "a container over its own limit is OOMKilled within its pod's cgroup and restarted; node-problem-detector reports each kill, the kubelet's events do not", Timeout: Timeouts.ContainerLimit, Typical: 15 * time.Second, Run: r.CheckContainerLimit},
				{Side: scenarios.Pitfall, Name: "pitfall: replicas without requests burst past the pods cgroup's limit: the kernel kills BestEffort pods before the kubelet evicts", Timeout: Timeouts.Pitfall, Typical: 50 * time.Second, Run: r.PitfallNoRequests},
				{Side: scenarios.Fix, Name: "fix: the same burst with requests: the scheduler leaves what does not fit Pending, the kernel kills nothing", Timeout: Timeouts.Fix, Typical: 45 * time.Second, Run: r.FixRequests},
			},
			Cleanup:    scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
			LeakChecks: []scenarios.Step{{Side: scenarios.Check, Name: "leaves the worker as it was: kubelet config, pods cgroup limit, allocatable; node-problem-detector and its binding gone", Timeout: Timeouts.LeftNothing, Run: r.LeftNothing}},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env    scenarios.Env
	Lab    *lab.Lab
	Addons addon.Options
	// Namespace is created by Prepare; Node is the worker.
	Namespace string
	Node      string

	node nodeexec.Node
	// driver and root are the kubelet's cgroup driver and root; podsDir
	// is the pods cgroup's memory directory on the node, podsPath its
	// cgroup path.
	driver        nodeexec.CgroupDriver
	root          string
	cgroupVersion nodeexec.CgroupVersion
	podsPath      string
	podsDir       string
	// podsBefore is the pods cgroup as prepare found it; capacity and
	// allocatableBefore are the node's memory then.
	podsBefore        nodeexec.MemoryStats
	capacity          int64
	systemReserved    int64
	allocatableBefore resource.Quantity
	configBefore      []byte
	bindingCreated    bool
	restoreKubelet    func(context.Context) error

	// limit is the pods cgroup's limit the pitfall sets; request the
	// fix's per-replica request.
	limit   int64
	request int64

	events *exporter
	// kernelMark is the kernel log's last timestamp before each step.
	kernelMark float64
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook {
	return &Runbook{env: env, Lab: env.Lab, Addons: env.Addons}
}

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// Prepare picks and measures a worker and starts the observers.
func (r *Runbook) Prepare(ctx context.Context) error {
	if err := r.repairInterrupted(ctx); err != nil {
		return err
	}
	node, err := scenarios.QuietestWorker(ctx, r.env, "its kubelet is retuned and its pods fill its pods cgroup")
	if err != nil {
		return err
	}
	r.node, r.Node = node, node.String()
	cz, err := kubelet.ReadConfigz(ctx, r.Lab.Client, r.Node)
	if err != nil {
		return err
	}
	if !slices.Contains(cz.EnforceNodeAllocatable, "pods") {
		return scenarios.Skipf("the pitfall limits the pods cgroup through node allocatable, which needs enforceNodeAllocatable to hold \"pods\"; node %s's kubelet has %q (/configz)", r.Node, cz.EnforceNodeAllocatable)
	}
	r.driver, r.root = nodeexec.CgroupDriver(cz.CgroupDriver), cz.CgroupRoot
	if r.podsPath, err = nodeexec.PodsCgroupPath(r.driver, r.root); err != nil {
		return fmt.Errorf("node %s: %w", r.Node, err)
	}
	if r.cgroupVersion, err = nodeexec.DetectCgroupVersion(ctx, r.node); err != nil {
		return err
	}
	r.podsDir = nodeexec.MemoryCgroupDir(r.cgroupVersion, r.podsPath)
	if sr, ok := cz.SystemReserved[string(corev1.ResourceMemory)]; ok {
		q, err := resource.ParseQuantity(sr)
		if err != nil {
			return fmt.Errorf("node %s: systemReserved memory %q: %w", r.Node, sr, err)
		}
		r.systemReserved = q.Value()
	}
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	r.capacity = n.Status.Capacity.Memory().Value()
	r.allocatableBefore = n.Status.Allocatable.Memory().DeepCopy()
	if r.configBefore, err = nodeexec.ReadFile(ctx, r.node, kubelet.ConfigPath); err != nil {
		return err
	}
	if r.Namespace, err = r.Lab.CreateNamespace(ctx, "nodelab-oom-events"); err != nil {
		return err
	}
	if err := r.startNPD(ctx); err != nil {
		return err
	}
	// Measured with node-problem-detector running: it is one of the pods.
	if r.podsBefore, err = nodeexec.ReadMemoryStats(ctx, r.node, r.cgroupVersion, r.podsDir); err != nil {
		return err
	}
	r.events = startExporter(context.WithoutCancel(ctx), r.Lab.Client,
		exportSpec{Namespace: r.Namespace},
		exportSpec{Namespace: metav1.NamespaceAll, Selector: fields.SelectorFromSet(fields.Set{"involvedObject.kind": "Node", "involvedObject.name": r.Node})})
	r.env.Logf("worker %s: memory capacity %s, allocatable %s; pods cgroup %s (%s, driver %s)", r.Node,
		matchers.Bytes(r.capacity), matchers.Bytes(r.allocatableBefore.Value()), r.podsBefore, r.podsPath, r.driver)
	return nil
}

// repairInterrupted restores a kubelet retuning (its backup) and deletes
// the binding an interrupted run left.
func (r *Runbook) repairInterrupted(ctx context.Context) error {
	workers, err := r.Lab.Workers()
	if err != nil {
		return err
	}
	if err := kubelet.RestoreLeftovers(ctx, workers, r.tuneOptionsFor); err != nil {
		return err
	}
	return r.deleteBinding(ctx)
}

func (r *Runbook) tuneOptionsFor(node nodeexec.Node) kubelet.TuneOptions {
	return kubelet.TuneOptions{Client: r.Lab.Client, Node: node, Timeout: r.t().NodeReady, Log: r.env.Logf}
}

// Cleanup stops the exporter, restores the kubelet (first: a kubelet a
// failed retuning left down would not let the pods terminate), and deletes
// the namespace and the binding.
func (r *Runbook) Cleanup(ctx context.Context) error {
	var errs []error
	if r.events != nil {
		r.events.stop()
	}
	if r.restoreKubelet != nil {
		if err := r.restoreKubelet(ctx); err != nil {
			errs = append(errs, err)
		} else {
			r.restoreKubelet = nil
		}
	}
	if r.Namespace != "" {
		if err := r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup); err != nil {
			errs = append(errs, err)
		}
	}
	if r.bindingCreated {
		if err := r.deleteBinding(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
	pods, err := nodeexec.ReadMemoryStats(ctx, r.node, r.cgroupVersion, r.podsDir)
	if err != nil {
		return err
	}
	if pods.Unlimited != r.podsBefore.Unlimited || pods.Limit != r.podsBefore.Limit {
		problems = append(problems, fmt.Sprintf("the pods cgroup's limit is %s, was %s", limitString(pods), limitString(r.podsBefore)))
	}
	// The restored kubelet publishes its allocatable with its next status.
	err = wait.Until(ctx, wait.Within{What: "node " + r.Node + " publishing its allocatable memory of before, " + r.allocatableBefore.String(), Timeout: r.env.Scaled(Timeouts.Allocatable), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(n.Status.Allocatable.Memory().Cmp(r.allocatableBefore)).To(gomega.Equal(0), "allocatable memory %s", n.Status.Allocatable.Memory())
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	switch _, err := r.Lab.Client.RbacV1().ClusterRoleBindings().Get(ctx, npdBinding, metav1.GetOptions{}); {
	case err == nil:
		problems = append(problems, "ClusterRoleBinding "+npdBinding+" is still there (kubectl delete clusterrolebinding "+npdBinding+")")
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("get ClusterRoleBinding %s: %w", npdBinding, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("worker %s after the scenario: %s", r.Node, strings.Join(problems, "; "))
	}
	return nil
}

func limitString(m nodeexec.MemoryStats) string {
	if m.Unlimited {
		return "unlimited"
	}
	return matchers.Bytes(int64(m.Limit))
}
