package imagefsstats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/noderuntime"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

// The sizes of the pitfall and the fix. The worker's image filesystem gets
// Headroom free after the copy; its imagefs.available threshold is
// Threshold; the writer writes Fill, which leaves Headroom − Fill free,
// below the threshold.
const (
	Headroom  = 512 << 20
	Threshold = 256 << 20
	Fill      = 384 << 20
	// spareHostMemory is what the host must keep free beside the tmpfs.
	spareHostMemory = 1 << 30
	// spareNodeDisk is what the node filesystem must keep free beside the
	// fix's Fill.
	spareNodeDisk = 1 << 30
	// unchangedBy is how much imageFs usedBytes may move in the fix while
	// the writer's data goes to the emptyDir (the keeper's and the writer's
	// layers, logs).
	unchangedBy = 16 << 20
)

// PitfallContainerWrites gives a worker a small image filesystem of its
// own, sets an imagefs.available threshold, and lets an app write its
// scratch data into its container filesystem.
func (r *Runbook) PitfallContainerWrites(ctx context.Context) (err error) {
	defer func() {
		// The fix runs on what the pitfall prepared: where the pitfall
		// cannot run, neither can the fix, for the same measured reason.
		if na := (*scenarios.NotApplicable)(nil); errors.As(err, &na) {
			r.notApplicable = err
		}
	}()
	if unmet := scenarios.Unmet(r.env, []scenarios.Need{scenarios.NodeChanges}); unmet != "" {
		return scenarios.Skipf("%s", unmet)
	}
	if err := scenarios.NodeAccessWithoutKubelet(r.env, "moving the worker's containerd root stops its kubelet"); err != nil {
		return err
	}
	workers, err := r.Lab.Workers()
	if err != nil {
		return err
	}
	if len(workers) == 0 {
		return scenarios.Skipf("needs a worker; %s has none", r.Lab.Name)
	}
	r.node, r.Node = workers[0], workers[0].String()
	if err := r.checkRoom(ctx); err != nil {
		return err
	}
	if r.Namespace, err = r.Lab.CreateNamespace(ctx, "nodelab-imagefs"); err != nil {
		return err
	}
	r.dedicated, err = moveRuntimeRoot(ctx, r.node, Headroom, []string{images.AgnhostImage}, func(ctx context.Context) (*noderuntime.Client, error) { return noderuntime.Dial(ctx, r.node, "") })
	if err != nil {
		return err
	}
	// The keeper keeps agnhost in use, so the kubelet's image GC cannot
	// take the image the writers run. It lives on the copy only, like
	// every pod of this scenario.
	keeper, err := manifest.DecodePods(fixtures.FS, "imagefs-stats/keeper.yaml")
	if err != nil {
		return err
	}
	if _, err := r.Lab.CreatePodsOn(ctx, r.Namespace, r.Node, images.AgnhostImage, keeper, r.env.T().PodStart); err != nil {
		return err
	}
	r.env.Logf("%s: containerd's root is now a %s tmpfs of its own (%s copied; %d images no container used removed from the copy, so image GC has nothing to free: %s)",
		r.Node, mib(r.dedicated.Size), mib(r.dedicated.Used), len(r.dedicated.Pruned), strings.Join(r.dedicated.Pruned, ", "))
	r.restoreKubelet, err = kubelet.Tune(ctx, kubelet.TuneOptions{Client: r.Lab.Client, Node: r.node, Timeout: r.env.T().NodeReady, Log: r.env.Logf}, kubelet.Tuning{
		EvictionHard:                     map[string]string{"imagefs.available": fmt.Sprintf("%dMi", Threshold>>20)},
		EvictionPressureTransitionPeriod: transitionPeriod,
	})
	if err != nil {
		return err
	}
	before, err := r.imageFs(ctx)
	if err != nil {
		return err
	}
	if val(before.CapacityBytes) != r.dedicated.Size || val(before.AvailableBytes) <= Threshold {
		return fmt.Errorf("%s's imageFs after the move: capacity %s (want the tmpfs, %s), available %s (want above the %s threshold)", r.Node, mib(val(before.CapacityBytes)), mib(r.dedicated.Size), mib(val(before.AvailableBytes)), mib(Threshold))
	}
	// The control: the threshold alone does not fire.
	if err := r.noPressureFor(ctx, "the tuned worker with nothing written"); err != nil {
		return err
	}
	imagesBefore, err := r.imageCount(ctx)
	if err != nil {
		return err
	}
	r.env.Logf("control: imageFs used %s, available %s of %s, threshold imagefs.available<%s; no DiskPressure for %s", mib(val(before.UsedBytes)), mib(val(before.AvailableBytes)), mib(val(before.CapacityBytes)), mib(Threshold), quietFor)

	writer, err := r.writerPod("imagefs-stats/pitfall-writer.yaml")
	if err != nil {
		return err
	}
	if _, err := r.Lab.CreatePinnedPods(ctx, r.Namespace, r.Node, "", writer); err != nil {
		return err
	}
	// The peaks of what the summary says (the CRI's cache, refreshed every
	// 10 s, which can miss a layer the kubelet removes sooner) and of the
	// snapshotter's live usage (the containerd client), sampled until the
	// pressure has cleared.
	rt, err := noderuntime.Dial(ctx, r.node, "")
	if err != nil {
		return err
	}
	defer func() { _ = rt.Close() }()
	liveBefore, err := rt.SnapshotUsage(ctx, snapshotterOf(ContainerdRoot+"/io.containerd.snapshotter.v1.overlayfs"))
	if err != nil {
		return err
	}
	var peak, livePeak uint64
	track := func(g gomega.Gomega) {
		if fs, err := r.imageFs(ctx); err == nil && val(fs.UsedBytes) > peak {
			peak = val(fs.UsedBytes)
		}
		if u, err := rt.SnapshotUsage(ctx, "overlayfs"); err == nil && u.Bytes > livePeak {
			livePeak = u.Bytes
		}
	}
	start := time.Now()
	err = wait.Until(ctx, wait.Within{What: r.Node + " reporting DiskPressure", Timeout: r.env.Scaled(Timeouts.Pressure), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		track(g)
		n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(n).To(matchers.HaveNodeCondition(corev1.NodeDiskPressure, corev1.ConditionTrue))
	})
	if err != nil {
		return err
	}
	pressureAfter := time.Since(start)
	var evicted *corev1.Pod
	err = wait.Until(ctx, wait.Within{What: "the writer evicted for ephemeral-storage", Timeout: r.env.Scaled(Timeouts.Evicted), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		track(g)
		p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, "writer", metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(p).To(matchers.BeEvictedFor("ephemeral-storage"))
		evicted = p
	})
	if err != nil {
		return err
	}
	r.env.Logf("writer evicted after %s: %s", time.Since(start).Round(time.Second), evicted.Status.Message)
	if grew := int64(livePeak) - int64(liveBefore.Bytes); grew < Fill*9/10 {
		return fmt.Errorf("the snapshotter's usage (containerd client) grew by %s at most while the writer held %s in its container filesystem; want about that much", mib(uint64(max(grew, 0))), mib(Fill))
	}
	imagesAfter, err := r.imageCount(ctx)
	if err != nil {
		return err
	}
	if imagesAfter != imagesBefore {
		return fmt.Errorf("the image count went from %d to %d: the kubelet's image GC found images to free, so the eviction is not shown to come from the writer's data alone", imagesBefore, imagesAfter)
	}
	// What the kubelet did about it, from its journal: image GC first,
	// then an eviction because it freed too little.
	journal, err := nodeexec.Run(ctx, r.node, "journalctl", "-u", "kubelet", "--no-pager", "-o", "cat", "--since", "@"+strconv.FormatInt(start.Unix()-1, 10))
	if err != nil {
		return err
	}
	for _, line := range []string{"Attempting to delete unused images", "must evict pod(s) to reclaim"} {
		if !strings.Contains(journal, line) {
			return fmt.Errorf("the kubelet's journal on %s since the fill has no %q: the eviction did not go through image GC first", r.Node, line)
		}
	}
	r.env.Logf("kubelet journal: \"attempting to reclaim\" ephemeral-storage, \"Attempting to delete unused images\", then \"must evict pod(s) to reclaim\"")
	r.env.Logf("no image was added or removed (%d before and after): the snapshotter held %s → %s with the writer's %s, all of it not images; the summary's imageFs usedBytes peaked at %s (from %s; it shows the CRI's 10 s cache)",
		imagesBefore, mib(liveBefore.Bytes), mib(livePeak), mib(Fill), mib(peak), mib(val(before.UsedBytes)))
	r.env.Measure("imageFs used before / at peak", fmt.Sprintf("%s / %s live, %s / %s in the summary (capacity %s)", mib(liveBefore.Bytes), mib(livePeak), mib(val(before.UsedBytes)), mib(peak), mib(r.dedicated.Size)))
	r.env.Measure("DiskPressure after the fill", pressureAfter.Round(time.Second).String())
	if err := r.podRunning(ctx, "keeper"); err != nil {
		return err
	}
	return wait.Until(ctx, wait.Within{What: r.Node + "'s DiskPressure cleared once the writer's layer is gone", Timeout: r.env.Scaled(Timeouts.Cleared), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		track(g)
		n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(n).NotTo(matchers.HaveNodeCondition(corev1.NodeDiskPressure, corev1.ConditionTrue))
	})
}

// FixEmptyDir runs the same writer with its data in an emptyDir: the image
// filesystem does not move and the threshold does not fire.
func (r *Runbook) FixEmptyDir(ctx context.Context) error {
	if r.notApplicable != nil {
		return r.notApplicable
	}
	if r.dedicated == nil || r.restoreKubelet == nil {
		return fmt.Errorf("the pitfall did not prepare the worker (run the whole scenario)")
	}
	before, err := r.imageFs(ctx)
	if err != nil {
		return err
	}
	writer, err := r.writerPod("imagefs-stats/fix-writer.yaml")
	if err != nil {
		return err
	}
	if _, err := r.Lab.CreatePodsOn(ctx, r.Namespace, r.Node, "", writer, r.env.T().PodStart); err != nil {
		return err
	}
	err = wait.Until(ctx, wait.Within{What: "the fixed writer reporting its data written", Timeout: r.env.Scaled(Timeouts.Wrote), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		b, err := r.Lab.Client.CoreV1().Pods(r.Namespace).GetLogs("writer-fixed", &corev1.PodLogOptions{}).DoRaw(ctx)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(string(b)).To(gomega.ContainSubstring("wrote"))
	})
	if err != nil {
		return err
	}
	if err := r.noPressureFor(ctx, "the fixed writer's data in its emptyDir"); err != nil {
		return err
	}
	after, err := r.imageFs(ctx)
	if err != nil {
		return err
	}
	moved := int64(val(after.UsedBytes)) - int64(val(before.UsedBytes))
	if moved > unchangedBy || -moved > unchangedBy {
		return fmt.Errorf("imageFs usedBytes moved by %d bytes while the writer wrote to its emptyDir; want within %s", moved, mib(unchangedBy))
	}
	if err := r.podRunning(ctx, "writer-fixed"); err != nil {
		return err
	}
	r.env.Logf("fix: %s written to an emptyDir (node filesystem, sizeLimit 512Mi); imageFs used %s → %s, available %s; no DiskPressure for %s; the writer runs", mib(Fill), mib(val(before.UsedBytes)), mib(val(after.UsedBytes)), mib(val(after.AvailableBytes)), quietFor)
	return nil
}

// checkRoom refuses to start when the host lacks memory for the tmpfs or
// the node's disk lacks room for the fix's data.
func (r *Runbook) checkRoom(ctx context.Context) error {
	du, err := nodeexec.Run(ctx, r.node, "du", "-sb", ContainerdRoot)
	if err != nil {
		return err
	}
	f := strings.Fields(du)
	if len(f) == 0 {
		return fmt.Errorf("du %s on %s: %q", ContainerdRoot, r.Node, du)
	}
	root, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return fmt.Errorf("du %s on %s: %w", ContainerdRoot, r.Node, err)
	}
	mem, err := nodeexec.Run(ctx, r.node, "awk", "/^MemAvailable:/ {print $2 * 1024}", "/proc/meminfo")
	if err != nil {
		return err
	}
	avail, err := strconv.ParseFloat(strings.TrimSpace(mem), 64)
	if err != nil {
		return fmt.Errorf("MemAvailable on %s: %q", r.Node, mem)
	}
	if need := root + Headroom + spareHostMemory; uint64(avail) < need {
		return scenarios.Skipf("the worker's image filesystem is a tmpfs copy of %s (%s) plus %s headroom, and the host must keep %s free: needs %s of MemAvailable, measured %s", ContainerdRoot, mib(root), mib(Headroom), mib(spareHostMemory), mib(need), mib(uint64(avail)))
	}
	disk, err := nodeexec.StatfsOf(ctx, r.node, "/var/lib/kubelet")
	if err != nil {
		return err
	}
	if need := uint64(Fill + spareNodeDisk); disk.AvailableBytes < need {
		return scenarios.Skipf("the fix writes %s to an emptyDir on the node filesystem and leaves %s free: needs %s available, measured %s", mib(Fill), mib(spareNodeDisk), mib(need), mib(disk.AvailableBytes))
	}
	return nil
}

func (r *Runbook) writerPod(path string) ([]corev1.Pod, error) {
	pods, err := manifest.DecodePods(fixtures.FS, path)
	if err != nil {
		return nil, err
	}
	for i := range pods {
		for j := range pods[i].Spec.Containers {
			c := &pods[i].Spec.Containers[j]
			c.Image = images.AgnhostImage
			for k := range c.Env {
				if c.Env[k].Name == "MIB" {
					c.Env[k].Value = strconv.Itoa(Fill >> 20)
				}
			}
		}
	}
	return pods, nil
}

func (r *Runbook) imageFs(ctx context.Context) (kubelet.FsStats, error) {
	s, err := kubelet.ReadSummary(ctx, r.Lab.Client, r.Node)
	if err != nil {
		return kubelet.FsStats{}, err
	}
	if s.Node.Runtime == nil || s.Node.Runtime.ImageFs == nil {
		return kubelet.FsStats{}, fmt.Errorf("node %s: the summary API has no node.runtime.imageFs", r.Node)
	}
	return *s.Node.Runtime.ImageFs, nil
}

func (r *Runbook) imageCount(ctx context.Context) (int, error) {
	rt, err := noderuntime.Dial(ctx, r.node, "")
	if err != nil {
		return 0, err
	}
	defer func() { _ = rt.Close() }()
	is, err := rt.Containerd.ImageService().List(rt.Namespaced(ctx))
	if err != nil {
		return 0, fmt.Errorf("list images on %s: %w", r.Node, err)
	}
	return len(is), nil
}

func (r *Runbook) noPressureFor(ctx context.Context, what string) error {
	return wait.Holds(ctx, wait.Within{What: r.Node + " without DiskPressure (" + what + ")", Timeout: quietFor, Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(n).NotTo(matchers.HaveNodeCondition(corev1.NodeDiskPressure, corev1.ConditionTrue))
	})
}

func (r *Runbook) podRunning(ctx context.Context, name string) error {
	p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get pod %s: %w", name, err)
	}
	if p.Status.Phase != corev1.PodRunning {
		return fmt.Errorf("pod %s is %s (%s %s), want Running", name, p.Status.Phase, p.Status.Reason, p.Status.Message)
	}
	return nil
}
