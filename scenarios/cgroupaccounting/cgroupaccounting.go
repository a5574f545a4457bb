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
// Host requirements: a lab nodelab created (cgroup files are read in the
// node containers), ≥ 1 worker. Typical: ~75s (chaos-mesh already installed).
package cgroupaccounting

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/chaosmesh"
	"github.com/nodelab/nodelab/lab/chaos"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/meminfo"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/podexec"
	"github.com/nodelab/nodelab/lab/timeline"
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
		Needs:    []scenarios.Need{scenarios.NodeContainers},
		Requires: []string{"a lab created by nodelab (cgroup files read in the node containers)", "≥ 1 worker"},
		Typical:  75 * time.Second,
		Addons:   []string{chaosmesh.Name},
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

const (
	// Limit is the app's memory limit (the seed's 500Mi).
	Limit = 500 << 20
	// StressSize is injected into the app, well inside its limit.
	StressSize = 256 << 20
	// GrowthTolerance bounds |growth − StressSize| of the app's working set
	// relative to the control (memStress touches every page it maps; the
	// rest is the stressor's own binary and stacks).
	GrowthTolerance = 16 << 20
	// PageCacheSize is written to a file in the app container so its cgroup
	// holds reclaimable page cache: working_set must leave it out.
	PageCacheSize = 64 << 20
	// WorkingSetTolerance bounds |kubelet working_set − (usage −
	// inactive_file)|: the two are read a moment apart.
	WorkingSetTolerance = 8 << 20
	// OOMStressSize is more than Limit: the container's cgroup must OOM.
	OOMStressSize = 640 << 20

	guaranteedOOMScoreAdj = -997
	besteffortOOMScoreAdj = 1000
)

// Runbook holds the state of one run.
type Runbook struct {
	env       scenarios.Env
	Lab       *lab.Lab
	Addons    addon.Options
	Namespace string
	Node      string

	node     nodes.Node
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

// withTimeline reports the memory timeline recorded so far after step.
func (r *Runbook) withTimeline(step func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		defer func() { r.env.Timeline("memory", r.Timeline()) }()
		return step(ctx)
	}
}

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// Prepare installs Chaos Mesh and starts the pods on one worker.
func (r *Runbook) Prepare(ctx context.Context) error {
	if r.Lab.Attached {
		return scenarios.Skipf("requires a lab created by nodelab: cgroup files are read in the node containers; this run is attached to %s", r.Lab.Kubeconfig)
	}
	kn, err := r.Lab.KindNodes()
	if err != nil {
		return err
	}
	for _, n := range kn {
		if role, err := n.Role(); err == nil && role == "worker" {
			r.node = n
			break
		}
	}
	if r.node == nil {
		return scenarios.Skipf("needs a worker node; lab %s has only a control plane", r.Lab.Name)
	}
	r.Node = r.node.String()
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
	pods, err := manifest.DecodePods(fixtures.FS, "cgroup-accounting/pods.yaml")
	if err != nil {
		return err
	}
	running, err := r.Lab.CreatePodsOn(ctx, ns, r.Node, images.AgnhostImage, pods, r.t().PodStart)
	if err != nil {
		return err
	}
	r.pods, r.cgroups = map[string]*corev1.Pod{}, map[string]string{}
	for i := range running {
		p := &running[i]
		dir, _, err := nodeexec.FindContainerCgroup(ctx, r.node, nodeexec.ContainerCgroup{
			QOS: p.Status.QOSClass, PodUID: string(p.UID), ContainerID: p.Status.ContainerStatuses[0].ContainerID})
		if err != nil {
			return err
		}
		r.pods[p.Name], r.cgroups[p.Name] = p, dir
	}
	r.rec = timeline.NewRecorder("cgroup-accounting: app (200Mi/500Mi) vs control on "+r.Node, "MiB", time.Now())
	r.env.Logf("pods on %s (%s); app's cgroup: %s", r.Node, r.version, r.cgroups["app"])
	return nil
}

// memory reads a pod's container cgroup from the node and samples it.
func (r *Runbook) memory(ctx context.Context, pod string) (nodeexec.MemoryStats, error) {
	m, err := nodeexec.ReadMemoryStats(ctx, r.node, r.version, r.cgroups[pod])
	if err == nil && r.rec != nil {
		now := time.Now()
		r.rec.Sample(pod+" working_set", now, float64(m.WorkingSet)/(1<<20))
		r.rec.Sample(pod+" usage", now, float64(m.Usage)/(1<<20))
		if pod == "app" && !m.Unlimited {
			r.rec.Sample("app limit", now, float64(m.Limit)/(1<<20))
		}
	}
	return m, err
}

func (r *Runbook) exec(ctx context.Context, pod string, command ...string) (string, error) {
	return podexec.Run(ctx, r.Lab.Config, r.Lab.Client, podexec.Target{Namespace: r.Namespace, Pod: pod, Container: "app"}, command...)
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
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	capacity := n.Status.Capacity.Memory().Value()
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

// freeMemTotal returns the total of free's "Mem:" line (bytes with -b).
func freeMemTotal(out string) (int64, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "Mem:" {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("free: Mem total %q is not a number", f[1])
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("free printed no Mem: line: %q", out)
}

// containerLimit reads the limit the container sees in its own cgroup
// filesystem: v2 memory.max, or v1 memory.limit_in_bytes.
func (r *Runbook) containerLimit(ctx context.Context) (int64, string, error) {
	file := "/sys/fs/cgroup/memory.max"
	if r.version == nodeexec.CgroupV1 {
		file = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	}
	out, err := r.exec(ctx, "app", "cat", file)
	if err != nil {
		return 0, file, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, file, fmt.Errorf("%s in the container: %q is not a byte count", file, strings.TrimSpace(out))
	}
	return v, file, nil
}

// FixCgroupTellsTheTruth: the cgroup files report the container, the
// kubelet's working_set is usage − inactive_file, and a StressChaos of
// StressSize shows up as StressSize of working set.
func (r *Runbook) FixCgroupTellsTheTruth(ctx context.Context) error {
	limit, file, err := r.containerLimit(ctx)
	if err != nil {
		return err
	}
	// Page cache in the container: written, synced, then reclaimable.
	if _, err := r.exec(ctx, "app", "sh", "-c", fmt.Sprintf("dd if=/dev/zero of=/tmp/page-cache bs=1048576 count=%d 2>/dev/null && sync", PageCacheSize>>20)); err != nil {
		return fmt.Errorf("write page cache in the app container: %w", err)
	}
	err = wait.Check(func(g gomega.Gomega) {
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
	if err != nil {
		return err
	}

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

// workingSetReading pairs the kubelet's working_set for the app container
// with the cgroup counters read right after.
func (r *Runbook) workingSetReading(ctx context.Context) (matchers.MemoryReading, error) {
	s, err := kubelet.ReadSummary(ctx, r.Lab.Client, r.Node)
	if err != nil {
		return matchers.MemoryReading{}, err
	}
	ps := s.Pod(r.Namespace, "app")
	if ps == nil || ps.Container("app") == nil || ps.Container("app").Memory == nil || ps.Container("app").Memory.WorkingSetBytes == nil {
		return matchers.MemoryReading{}, fmt.Errorf("the summary API of %s has no working set for %s/app yet", r.Node, r.Namespace)
	}
	m, err := r.memory(ctx, "app")
	if err != nil {
		return matchers.MemoryReading{}, err
	}
	return matchers.MemoryReading{WorkingSet: int64(*ps.Container("app").Memory.WorkingSetBytes), Usage: int64(m.Usage), InactiveFile: int64(m.InactiveFile)}, nil
}

func (r *Runbook) pair(ctx context.Context) (app, control nodeexec.MemoryStats, err error) {
	if app, err = r.memory(ctx, "app"); err != nil {
		return app, control, err
	}
	control, err = r.memory(ctx, "control")
	return app, control, err
}

func (r *Runbook) stress(ctx context.Context, name string, size int64, oomScoreAdj int) (types.NamespacedName, error) {
	r.rec.Mark(time.Now(), "inject", fmt.Sprintf("%s %d MiB", name, size>>20))
	return chaos.InjectMemory(ctx, r.chaos, chaos.MemoryStress{Namespace: r.Namespace, Name: name, Selector: map[string]string{"nodelab.dev/role": "app"},
		Workers: 1, Size: fmt.Sprintf("%dMiB", size>>20), OOMScoreAdj: oomScoreAdj, Duration: ChaosBound}, r.env.Scaled(Timeouts.Inject))
}

func (r *Runbook) deleteChaos(ctx context.Context, key types.NamespacedName) {
	r.rec.Mark(time.Now(), "recover", "delete "+key.Name)
	// The step deletes its chaos before a failure bundle is collected:
	// keep its last status in the log and the report.
	if st, err := chaos.Status(ctx, r.chaos, key); err == nil {
		r.env.Logf("%s before deletion: %s", key.Name, st)
	}
	if err := chaos.Delete(ctx, r.chaos, key, r.env.Scaled(Timeouts.ChaosDelete)); err != nil {
		r.env.Logf("delete %s: %v", key, err)
	}
}

// process is one process in the app container's cgroup.
type process struct {
	PID         string
	Comm        string
	OOMScoreAdj int
}

// processes lists the processes of a container's cgroup with their
// oom_score_adj, read in the node.
func (r *Runbook) processes(ctx context.Context, pod string) ([]process, error) {
	script := `for p in $(cat "$1/cgroup.procs"); do printf '%s %s %s\n' "$p" "$(cat /proc/$p/comm 2>/dev/null)" "$(cat /proc/$p/oom_score_adj 2>/dev/null)"; done`
	out, err := nodeexec.Run(ctx, r.node, "sh", "-c", script, "sh", r.cgroups[pod])
	if err != nil {
		return nil, fmt.Errorf("list the processes of %s: %w", pod, err)
	}
	var ps []process
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue // exited between the two reads
		}
		adj, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		ps = append(ps, process{PID: f[0], Comm: f[1], OOMScoreAdj: adj})
	}
	return ps, nil
}

// oomKills sums the oom_kill counters of the app's container and pod
// cgroups: on v1 the kernel counts a kill only in the cgroup that hit its
// limit (the pod's limit equals the container's here), on v2 the pod's
// counter includes the container's.
func (r *Runbook) oomKills(ctx context.Context) (container, pod uint64, err error) {
	c, err := r.memory(ctx, "app")
	if err != nil {
		return 0, 0, err
	}
	podDir := path.Dir(r.cgroups["app"])
	p, err := nodeexec.ReadMemoryStats(ctx, r.node, r.version, podDir)
	if err != nil {
		return 0, 0, err
	}
	return c.OOMKills, p.OOMKills, nil
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

// daemonCanLowerOOMScoreAdj tells whether chaos-daemon on the worker has
// CAP_SYS_RESOURCE in its effective set (bit 24 of CapEff).
func (r *Runbook) daemonCanLowerOOMScoreAdj(ctx context.Context) (bool, string, error) {
	out, err := nodeexec.Run(ctx, r.node, "sh", "-c", `p=$(pgrep -o -x chaos-daemon) && grep CapEff /proc/$p/status`)
	if err != nil {
		return false, "", fmt.Errorf("read chaos-daemon's capabilities on %s: %w", r.Node, err)
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return false, "", fmt.Errorf("chaos-daemon's CapEff on %s: %q", r.Node, out)
	}
	caps, err := strconv.ParseUint(f[1], 16, 64)
	if err != nil {
		return false, "", fmt.Errorf("chaos-daemon's CapEff on %s: %q", r.Node, f[1])
	}
	if caps&(1<<24) == 0 {
		return false, fmt.Sprintf("chaos-daemon on %s lacks CAP_SYS_RESOURCE (CapEff %s; this host's capability bounding set has none)", r.Node, f[1]), nil
	}
	return true, "", nil
}

// beyondLimit injects OOMStressSize with the stressor's oom_score_adj set
// to adj and checks the kill the kernel's rules predict: the highest
// badness (memory in pages + oom_score_adj × limit pages / 1000) dies,
// unless memory.oom.group makes the kernel kill the whole container.
func (r *Runbook) beyondLimit(ctx context.Context, name string, adj int) error {
	app, err := r.getPod("app")(ctx)
	if err != nil {
		return err
	}
	dir, _, err := nodeexec.FindContainerCgroup(ctx, r.node, nodeexec.ContainerCgroup{
		QOS: app.Status.QOSClass, PodUID: string(app.UID), ContainerID: app.Status.ContainerStatuses[0].ContainerID})
	if err != nil {
		return err
	}
	r.cgroups["app"] = dir
	before, err := r.processes(ctx, "app")
	if err != nil {
		return err
	}
	if len(before) == 0 {
		return fmt.Errorf("no process in the app's cgroup %s", dir)
	}
	appProc := before[0]
	group := false
	if r.version == nodeexec.CgroupV2 {
		if b, err := nodeexec.ReadFile(ctx, r.node, dir+"/memory.oom.group"); err == nil {
			group = strings.TrimSpace(string(b)) == "1"
		}
	}
	// The stressor fills the cgroup to its limit, the app holds little:
	// with the stressor's adj the stressor wins unless adj is very low.
	stressorPoints := 1000 + adj // in thousandths of the limit
	appPoints := appProc.OOMScoreAdj
	wholeContainer := group || appPoints > stressorPoints
	expect := fmt.Sprintf("the stressor is killed (badness ≈ %d‰ of the limit vs the app's %d‰), the app keeps running", stressorPoints, appPoints)
	if wholeContainer {
		expect = fmt.Sprintf("the app container is OOMKilled (exit 137): memory.oom.group=%v, badness stressor ≈ %d‰ vs app %d‰", group, stressorPoints, appPoints)
	}
	cBefore, pBefore, err := r.oomKills(ctx)
	if err != nil {
		return err
	}
	restartsBefore := app.Status.ContainerStatuses[0].RestartCount
	r.env.Logf("%s: stressor oom_score_adj %d, app %s (pid %s) oom_score_adj %d → expected: %s", name, adj, appProc.Comm, appProc.PID, appProc.OOMScoreAdj, expect)
	key, err := r.stress(ctx, name, OOMStressSize, adj)
	if err != nil {
		return err
	}
	defer r.deleteChaos(ctx, key)
	err = wait.Check(func(g gomega.Gomega) {
		g.Eventually(ctx, func(ctx context.Context) (uint64, error) {
			c, p, err := r.oomKills(ctx)
			return c + p, err
		}).WithTimeout(r.env.Scaled(Timeouts.OOMKill)).WithPolling(Timeouts.OOMPoll).Should(gomega.BeNumerically(">", cBefore+pBefore),
			"the cgroup's oom_kill counter grows: %s past a %s limit is a cgroup OOM kill", matchers.Bytes(OOMStressSize), matchers.Bytes(Limit))
		r.rec.Mark(time.Now(), "oom", name)
		if wholeContainer {
			g.Eventually(ctx, r.getPod("app")).WithTimeout(r.env.Scaled(Timeouts.AppOOMKilled)).WithPolling(Timeouts.OOMPoll).Should(matchers.HaveBeenOOMKilled("app"))
		} else {
			g.Consistently(ctx, r.getPod("app")).WithTimeout(r.env.Scaled(Timeouts.AppSurvives)).WithPolling(Timeouts.OOMPoll).Should(gomega.And(
				gomega.HaveField("Status.Phase", corev1.PodRunning),
				gomega.HaveField("Status.ContainerStatuses", gomega.HaveEach(gomega.HaveField("RestartCount", restartsBefore)))),
				"the app container was not killed: the stressor was")
			ps, err := r.processes(ctx, "app")
			g.Expect(err).NotTo(gomega.HaveOccurred())
			g.Expect(ps).To(gomega.ContainElement(gomega.HaveField("PID", appProc.PID)), "the app's process %s is still in its cgroup", appProc.PID)
		}
		p, err := r.getPod("app")(ctx)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(p.Status.Phase).NotTo(gomega.Equal(corev1.PodFailed), "an OOM kill is not an eviction: the pod is not Failed/Evicted (%s)", p.Status.Reason)
		n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(n).NotTo(matchers.HaveNodeCondition(corev1.NodeMemoryPressure, corev1.ConditionTrue), "no node pressure was involved")
	})
	c, p, _ := r.oomKills(ctx)
	r.env.Logf("%s: oom_kill counters container %d→%d, pod %d→%d (%s)", name, cBefore, c, pBefore, p, r.version)
	return err
}

func (r *Runbook) getPod(name string) func(context.Context) (*corev1.Pod, error) {
	return func(ctx context.Context) (*corev1.Pod, error) {
		return r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
}

// QoSAndOOMScoreAdj checks each pod's QoS class and the oom_score_adj the
// kubelet asked for on its main process, reporting a host that clamps
// negative values.
func (r *Runbook) QoSAndOOMScoreAdj(ctx context.Context) error {
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	capacity := n.Status.Capacity.Memory().Value()
	runtimeAdj, err := r.containerdOOMScoreAdj(ctx)
	if err != nil {
		return err
	}
	want := map[string]struct {
		qos corev1.PodQOSClass
		adj int
	}{
		"guaranteed": {corev1.PodQOSGuaranteed, guaranteedOOMScoreAdj},
		"app":        {corev1.PodQOSBurstable, burstableOOMScoreAdj(200<<20, capacity)},
		"control":    {corev1.PodQOSBurstable, burstableOOMScoreAdj(200<<20, capacity)},
		"besteffort": {corev1.PodQOSBestEffort, besteffortOOMScoreAdj},
	}
	var problems []string
	for _, name := range []string{"guaranteed", "app", "besteffort"} {
		p, err := r.getPod(name)(ctx)
		if err != nil {
			return err
		}
		w := want[name]
		if p.Status.QOSClass != w.qos {
			problems = append(problems, fmt.Sprintf("%s: QoS class %s, want %s", name, p.Status.QOSClass, w.qos))
		}
		// Chaos may have restarted the app container: read its cgroup anew.
		dir, _, err := nodeexec.FindContainerCgroup(ctx, r.node, nodeexec.ContainerCgroup{
			QOS: p.Status.QOSClass, PodUID: string(p.UID), ContainerID: p.Status.ContainerStatuses[0].ContainerID})
		if err != nil {
			return err
		}
		r.cgroups[name] = dir
		ps, err := r.processes(ctx, name)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return fmt.Errorf("no process in %s's cgroup %s", name, dir)
		}
		got := ps[0].OOMScoreAdj
		switch {
		case got == w.adj:
			r.env.Logf("%s (%s): oom_score_adj %d, as the kubelet asks", name, w.qos, got)
		case w.adj < runtimeAdj && got == runtimeAdj:
			// containerd's restrict_oom_score_adj clamps to its own value; a
			// host without CAP_SYS_RESOURCE can do nothing else.
			r.env.Logf("%s (%s): the kubelet asks oom_score_adj %d, this host clamps it to %d (containerd runs at %d: restrict_oom_score_adj, no CAP_SYS_RESOURCE to go lower)",
				name, w.qos, w.adj, got, runtimeAdj)
		default:
			problems = append(problems, fmt.Sprintf("%s (%s): oom_score_adj %d on pid %s (%s), want %d", name, w.qos, got, ps[0].PID, ps[0].Comm, w.adj))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// burstableOOMScoreAdj is the kubelet's formula (pkg/kubelet/qos): 1000 −
// 1000·request/capacity, kept within [1000+guaranteed, 999].
func burstableOOMScoreAdj(request, capacity int64) int {
	adj := 1000 - int((1000*request)/capacity)
	if adj < 1000+guaranteedOOMScoreAdj {
		return 1000 + guaranteedOOMScoreAdj
	}
	if adj == besteffortOOMScoreAdj {
		return adj - 1
	}
	return adj
}

// containerdOOMScoreAdj reads the container runtime's own oom_score_adj in
// the node: the floor containerd's restrict_oom_score_adj clamps to.
func (r *Runbook) containerdOOMScoreAdj(ctx context.Context) (int, error) {
	out, err := nodeexec.Run(ctx, r.node, "sh", "-c", `cat /proc/$(pgrep -o -x containerd)/oom_score_adj`)
	if err != nil {
		return 0, fmt.Errorf("read containerd's oom_score_adj on %s: %w", r.Node, err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("containerd's oom_score_adj on %s: %q", r.Node, strings.TrimSpace(out))
	}
	return v, nil
}

// NoStressorLeft: no stressor on any node, and the app's working set is
// back near its baseline.
func (r *Runbook) NoStressorLeft(ctx context.Context) error {
	if r.Lab.Attached {
		return scenarios.Skipf("requires node access through Docker; this run is attached to %s", r.Lab.Kubeconfig)
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

// Timeline is the app's and the control's memory so far, with the
// injections and OOM kills as markers; nil before Prepare.
func (r *Runbook) Timeline() *timeline.Timeline {
	if r.rec == nil {
		return nil
	}
	return r.rec.Build(timelineBucket, time.Now())
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
