package cgroupaccounting

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

// beyondLimit injects OOMStressSize with the stressor's oom_score_adj set
// to adj and checks the kill the kernel's rules predict (predictOOMVictim):
// a cgroup OOM kill, not an eviction.
func (r *Runbook) beyondLimit(ctx context.Context, name string, adj int) error {
	app, err := r.getPod("app")(ctx)
	if err != nil {
		return err
	}
	want, err := r.predictOOMVictim(ctx, app, adj)
	if err != nil {
		return err
	}
	cBefore, pBefore, err := r.oomKills(ctx)
	if err != nil {
		return err
	}
	restartsBefore := app.Status.ContainerStatuses[0].RestartCount
	r.env.Logf("%s: stressor oom_score_adj %d, app %s (pid %s) oom_score_adj %d → expected: %s", name, adj, want.app.Comm, want.app.PID, want.app.OOMScoreAdj, want.expect)
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
		if want.wholeContainer {
			g.Eventually(ctx, r.getPod("app")).WithTimeout(r.env.Scaled(Timeouts.AppOOMKilled)).WithPolling(Timeouts.OOMPoll).Should(matchers.HaveBeenOOMKilled("app"))
		} else {
			g.Consistently(ctx, r.getPod("app")).WithTimeout(r.env.Scaled(Timeouts.AppSurvives)).WithPolling(Timeouts.OOMPoll).Should(gomega.And(
				gomega.HaveField("Status.Phase", corev1.PodRunning),
				gomega.HaveField("Status.ContainerStatuses", gomega.HaveEach(gomega.HaveField("RestartCount", restartsBefore)))),
				"the app container was not killed: the stressor was")
			ps, err := r.processes(ctx, "app")
			g.Expect(err).NotTo(gomega.HaveOccurred())
			g.Expect(ps).To(gomega.ContainElement(gomega.HaveField("PID", want.app.PID)), "the app's process %s is still in its cgroup", want.app.PID)
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

// oomPrediction is the victim the kernel's rules predict for a StressChaos
// past the app's limit.
type oomPrediction struct {
	// app is the app container's main process before the injection.
	app process
	// wholeContainer: the app container is OOMKilled, not just the
	// stressor.
	wholeContainer bool
	// expect says what should happen and why.
	expect string
}

// predictOOMVictim reads the app container's cgroup anew (chaos may have
// restarted it), its main process and memory.oom.group, and predicts the
// victim of a stressor at oom_score_adj adj: the highest badness (memory
// in pages + oom_score_adj × limit pages / 1000) dies, unless
// memory.oom.group makes the kernel kill the whole container.
func (r *Runbook) predictOOMVictim(ctx context.Context, app *corev1.Pod, adj int) (oomPrediction, error) {
	dir, err := r.containerCgroup(ctx, app)
	if err != nil {
		return oomPrediction{}, err
	}
	r.cgroups["app"] = dir
	before, err := r.processes(ctx, "app")
	if err != nil {
		return oomPrediction{}, err
	}
	if len(before) == 0 {
		return oomPrediction{}, fmt.Errorf("no process in the app's cgroup %s", dir)
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
	p := oomPrediction{app: appProc, wholeContainer: group || appPoints > stressorPoints}
	p.expect = fmt.Sprintf("the stressor is killed (badness ≈ %d‰ of the limit vs the app's %d‰), the app keeps running", stressorPoints, appPoints)
	if p.wholeContainer {
		p.expect = fmt.Sprintf("the app container is OOMKilled (exit 137): memory.oom.group=%v, badness stressor ≈ %d‰ vs app %d‰", group, stressorPoints, appPoints)
	}
	return p, nil
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
