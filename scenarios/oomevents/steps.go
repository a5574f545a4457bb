package oomevents

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/meminfo"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

// CheckContainerLimit runs a container over its own limit and reads what
// reports its kills.
func (r *Runbook) CheckContainerLimit(ctx context.Context) error {
	if err := r.markKernelLog(ctx); err != nil {
		return err
	}
	from := time.Now().Add(-exporterSlack)
	pods, err := manifest.DecodePods(fixtures.FS, "oom-events/over-limit.yaml")
	if err != nil {
		return err
	}
	if _, err := r.Lab.CreatePinnedPods(ctx, r.Namespace, r.Node, images.AgnhostImage, pods); err != nil {
		return err
	}
	name := pods[0].Name
	var p *corev1.Pod
	var cs corev1.ContainerStatus
	err = wait.Until(ctx, wait.Within{What: "pod " + name + " restarted after a kill", Timeout: r.env.Scaled(Timeouts.Restarted), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		got, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(got.Status.ContainerStatuses).To(gomega.HaveLen(1))
		g.Expect(got.Status.ContainerStatuses[0].RestartCount).To(gomega.BeNumerically(">=", 1), "restarts")
		p, cs = got, got.Status.ContainerStatuses[0]
	})
	if err != nil {
		return err
	}
	last := cs.LastTerminationState.Terminated
	if last == nil || last.Reason != "OOMKilled" || last.ExitCode != 137 {
		return fmt.Errorf("pod %s restarted %d times, its last termination is %+v; want reason OOMKilled, exit code 137", name, cs.RestartCount, last)
	}
	podPath, err := r.podCgroupPath(p)
	if err != nil {
		return err
	}
	kills, err := r.killsSinceMark(ctx)
	if err != nil {
		return err
	}
	ours := killsIn(kills, podPath)
	if len(ours) < int(cs.RestartCount) {
		return fmt.Errorf("pod %s restarted %d times after OOMKilled, but the kernel log shows %d kills in its cgroup %s since the step began (all kills: %v)", name, cs.RestartCount, len(ours), podPath, kills)
	}
	for _, k := range ours {
		// The pod's cgroup has the sum of its containers' limits and the
		// pause container's few pages besides: it is the one hit first.
		if !strings.Contains(k.OOMMemcg+"/", podPath+"/") {
			return fmt.Errorf("kill %v: the limit hit should be the pod's own (its cgroup %s or its container's), not a parent's", k, podPath)
		}
	}
	r.env.Logf("pod %s (%s, limit %s): restarted %d times, last termination OOMKilled exit 137; kernel kills in its pod's cgroup: %s", name, p.Status.QOSClass,
		p.Spec.Containers[0].Resources.Limits.Memory(), cs.RestartCount, describeKills(ours, map[string]string{name: podPath}))

	reported, err := r.waitReported(ctx, ours, from)
	if err != nil {
		return err
	}
	kubeletLines, err := Query(r.events.Log(), from, time.Now().Add(exporterSlack))
	if err != nil {
		return err
	}
	var kubeletReasons []string
	for _, l := range kubeletLines {
		if l.Object == "Pod/"+name && l.Source == "kubelet" {
			kubeletReasons = append(kubeletReasons, l.Reason)
			// The message names the pod and its namespace, which says
			// "oom" itself: look at the rest.
			rest := strings.NewReplacer(r.Namespace, "", name, "").Replace(l.Reason + " " + l.Message)
			if strings.Contains(strings.ToLower(rest), "oom") || strings.Contains(strings.ToLower(rest), "out of memory") {
				return fmt.Errorf("the kubelet's event %s for pod %s mentions OOM (%q): the scenario's claim that only node-problem-detector reports OOM kills as events no longer holds on this Kubernetes", l.Reason, name, l.Message)
			}
		}
	}
	r.env.Logf("events: node-problem-detector OOMKilling %d (one per kernel kill); the kubelet's for the pod: %s, none mentions OOM (the pod status does)", len(reported), strings.Join(kubeletReasons, ", "))
	r.logLines(reported)
	r.env.Measure("container limit: OOMKilling per minute (exporter log)", PerMinute(reported))
	return r.deletePods(ctx, name)
}

// PitfallNoRequests limits the pods cgroup through node allocatable and
// bursts replicas without requests past it.
func (r *Runbook) PitfallNoRequests(ctx context.Context) error {
	if err := r.limitPods(ctx); err != nil {
		return err
	}
	b, err := r.burst(ctx, nil)
	if err != nil {
		return err
	}
	// The kernel kills within the burst's allocations.
	var ours []nodeexec.OOMKill
	err = wait.Until(ctx, wait.Within{What: "a kernel OOM kill among the burst's pods", Timeout: time.Until(b.at) + r.env.Scaled(Timeouts.Killed), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		kills, err := r.killsSinceMark(ctx)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		ours = b.kills(kills)
		g.Expect(ours).NotTo(gomega.BeEmpty())
	})
	if err != nil {
		return fmt.Errorf("%w; pods: %s", err, b.describe(ctx))
	}
	// Two of the kubelet's eviction intervals: what it does after the kills.
	if err := r.watchUntil(ctx, b.at.Add(Timeouts.Watch)); err != nil {
		return err
	}
	kills, err := r.killsSinceMark(ctx)
	if err != nil {
		return err
	}
	ours = b.kills(kills)
	for _, k := range ours {
		if !nodeexec.InMemcg(k.OOMMemcg, r.podsPath) {
			return fmt.Errorf("kill %v: the limit hit should be the pods cgroup's (%s), node allocatable's", k, r.podsPath)
		}
		if !k.BestEffort() {
			return fmt.Errorf("kill %v: the victim should be BestEffort (oom_score_adj 1000)", k)
		}
	}
	oomKilled := b.oomKilledPods(ctx)
	if len(oomKilled) == 0 {
		return fmt.Errorf("the kernel killed %d processes of the burst's pods, but no pod reports an OOMKilled termination: %s", len(ours), b.describe(ctx))
	}
	reported, err := r.waitReported(ctx, ours, b.from)
	if err != nil {
		return err
	}
	lines, err := Query(r.events.Log(), b.from, time.Now().Add(exporterSlack))
	if err != nil {
		return err
	}
	evicted := b.evictions(lines)
	firstKill := reported[0].Time
	for _, e := range evicted {
		if e.Time.Before(firstKill) {
			return fmt.Errorf("the kubelet evicted %s at %s, before the first kernel kill (%s): the burst did not outrun the kubelet", e.Object, e.Time.Format(time.TimeOnly), firstKill.Format(time.TimeOnly))
		}
	}
	systemOOM := 0
	for _, l := range lines {
		if l.Reason == "SystemOOM" {
			systemOOM++
		}
	}
	r.env.Logf("burst without requests: the kernel killed %d processes, the limit hit the pods cgroup's (%s, %s), victims BestEffort (oom_score_adj 1000): %s", len(ours), r.podsPath, matchers.Bytes(r.limit), describeKills(ours, b.paths))
	r.env.Logf("pods reporting OOMKilled: %s; the kubelet evicted after the kills: %s; SystemOOM node events: %d (the kubelet records one only for an OOM of the root memory cgroup, the whole machine; this one is node allocatable's)",
		strings.Join(oomKilled, ", "), describeLines(evicted, firstKill, "none within the window"), systemOOM)
	r.logLines(append(reported, evicted...))
	r.env.Measure("burst without requests: kernel OOM kills", strconv.Itoa(len(ours)))
	r.env.Measure("burst without requests: OOMKilling per minute (exporter log)", PerMinute(reported))
	return r.endBurst(ctx, b)
}

// FixRequests runs the same burst with requests.
func (r *Runbook) FixRequests(ctx context.Context) error {
	if r.limit == 0 {
		return fmt.Errorf("the pitfall did not limit the pods cgroup; the fix runs after it")
	}
	if err := r.waitNoPressure(ctx); err != nil {
		return err
	}
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	requested, err := r.requestedOnNode(ctx)
	if err != nil {
		return err
	}
	free := n.Status.Allocatable.Memory().Value() - requested
	r.request = free / 2 >> 20 << 20
	if r.request < minRequest {
		return scenarios.Skipf("the fix's replicas need at least %s each of allocatable; node %s has %s allocatable, %s of it requested by its pods", matchers.Bytes(minRequest), r.Node, n.Status.Allocatable.Memory(), matchers.Bytes(requested))
	}
	r.env.Logf("allocatable %s, requested by the worker's pods %s: each replica requests %s (two fit, three do not)", n.Status.Allocatable.Memory(), matchers.Bytes(requested), matchers.Bytes(r.request))
	req := resource.NewQuantity(r.request, resource.BinarySI)
	b, err := r.burst(ctx, req)
	if err != nil {
		return err
	}
	if len(b.pending) != Replicas-2 {
		return fmt.Errorf("with requests %s each, %d of %d replicas should stay Pending; pods: %s", req, Replicas-2, Replicas, b.describe(ctx))
	}
	noKill := func(g gomega.Gomega) {
		kills, err := r.killsSinceMark(ctx)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(describeKills(b.kills(kills), b.paths)).To(gomega.BeEmpty(), "kernel OOM kills among the burst's pods")
	}
	err = wait.Holds(ctx, wait.Within{What: "no kernel OOM kill among the burst's pods", Timeout: time.Until(b.at.Add(Timeouts.Watch)), Poll: Timeouts.Poll}, noKill)
	if err != nil {
		return fmt.Errorf("%w; pods: %s", err, b.describe(ctx))
	}
	// Two replicas use 2 × BurstSize, within LimitHeadroom of the limit
	// but past allocatable (limit − EvictionThreshold): the kubelet must
	// evict, and before anything reaches the limit.
	var evicted []EventLine
	err = wait.Until(ctx, wait.Within{What: "the kubelet evicting a replica, and no kernel kill", Timeout: r.env.Scaled(Timeouts.Evicted), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		noKill(g)
		lines, err := Query(r.events.Log(), b.from, time.Now().Add(Timeouts.Poll), "Evicted")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		evicted = b.evictions(lines)
		g.Expect(evicted).NotTo(gomega.BeEmpty(), "Evicted events for the burst's pods (two replicas of %s each sit between allocatable and the pods cgroup's limit %s)", matchers.Bytes(BurstSize), matchers.Bytes(r.limit))
	})
	if err != nil {
		return fmt.Errorf("%w; pods: %s", err, b.describe(ctx))
	}
	if killed := b.oomKilledPods(ctx); len(killed) > 0 {
		return fmt.Errorf("pods report OOMKilled: %s", strings.Join(killed, ", "))
	}
	kills, err := r.killsSinceMark(ctx)
	if err != nil {
		return err
	}
	ours, elsewhere := b.kills(kills), len(kills)-len(b.kills(kills))
	reported, err := r.reportedFor(ours, b.from)
	if err != nil {
		return err
	}
	r.env.Logf("burst with requests %s: %s Pending (Insufficient memory); kernel OOM kills among its pods: %d (elsewhere on this kernel meanwhile: %d, other containers' or clusters'); the kubelet evicted: %s", req, strings.Join(b.pending, ", "), len(ours), elsewhere, describeLines(evicted, b.at, "none"))
	r.logLines(evicted)
	r.env.Measure("burst with requests: kernel OOM kills", strconv.Itoa(len(ours)))
	r.env.Measure("burst with requests: OOMKilling per minute (exporter log)", PerMinute(reported))
	return r.endBurst(ctx, b)
}

// limitPods retunes the kubelet so that node allocatable limits the pods
// cgroup to what its pods use plus two replicas and LimitHeadroom.
func (r *Runbook) limitPods(ctx context.Context) error {
	limit := int64(r.podsBefore.WorkingSet) + 2*BurstSize + LimitHeadroom
	reservedMi := (r.capacity - r.systemReserved - limit) >> 20
	if reservedMi <= 0 {
		return scenarios.Skipf("node %s has memory capacity %s (systemReserved %s): too little to limit its pods cgroup to %s", r.Node, matchers.Bytes(r.capacity), matchers.Bytes(r.systemReserved), matchers.Bytes(limit))
	}
	r.limit = r.capacity - r.systemReserved - reservedMi<<20
	if err := r.checkRoom(ctx); err != nil {
		return err
	}
	t := kubelet.Tuning{
		KubeReserved:                     map[string]string{string(corev1.ResourceMemory): strconv.FormatInt(reservedMi, 10) + "Mi"},
		EvictionHard:                     map[string]string{"memory.available": EvictionThreshold},
		EvictionPressureTransitionPeriod: PressureTransition,
	}
	restore, err := kubelet.Tune(ctx, r.tuneOptionsFor(r.node), t)
	if r.restoreKubelet == nil {
		r.restoreKubelet = restore
	}
	if err != nil {
		return err
	}
	pods, err := nodeexec.ReadMemoryStats(ctx, r.node, r.cgroupVersion, r.podsDir)
	if err != nil {
		return err
	}
	// The kernel rounds a limit down to whole pages.
	if pods.Unlimited || r.limit-int64(pods.Limit) < 0 || r.limit-int64(pods.Limit) >= 64<<10 {
		return fmt.Errorf("after kubeReserved memory %dMi, the pods cgroup should be limited to %s; it reads %s", reservedMi, matchers.Bytes(r.limit), pods)
	}
	threshold := resource.MustParse(EvictionThreshold)
	want := resource.NewQuantity(r.limit-threshold.Value(), resource.BinarySI)
	err = wait.Until(ctx, wait.Within{What: "node " + r.Node + " publishing allocatable memory " + want.String(), Timeout: r.env.Scaled(Timeouts.Allocatable), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(n.Status.Allocatable.Memory().Cmp(*want)).To(gomega.Equal(0), "allocatable memory %s", n.Status.Allocatable.Memory())
	})
	if err != nil {
		return err
	}
	r.env.Logf("kubelet on %s: %s → pods cgroup limit %s (its pods' working set was %s), allocatable %s", r.Node, t, matchers.Bytes(int64(pods.Limit)), matchers.Bytes(int64(r.podsBefore.WorkingSet)), want)
	return nil
}

// burstRun is one burst's pods.
type burstRun struct {
	r    *Runbook
	from time.Time
	at   time.Time
	// nodeAt is at on the node's clock (BURST_AT).
	nodeAt time.Time
	// paths are the pods' cgroup paths (name → path); pending the pods
	// the scheduler did not place.
	paths   map[string]string
	pending []string
	names   []string
}

// burst creates the replicas (with requests when req is set), waits until
// each runs or stays Pending for lack of memory, and checks that those
// running started before the burst moment.
func (r *Runbook) burst(ctx context.Context, req *resource.Quantity) (*burstRun, error) {
	if err := r.markKernelLog(ctx); err != nil {
		return nil, err
	}
	pods, err := manifest.DecodePods(fixtures.FS, "oom-events/burst.yaml")
	if err != nil {
		return nil, err
	}
	// BURST_AT is read by the node's clock: offset it by the node's.
	skew, err := r.nodeClockSkew(ctx)
	if err != nil {
		return nil, err
	}
	b := &burstRun{r: r, from: time.Now().Add(-exporterSlack), at: time.Now().Add(r.env.Scaled(Timeouts.BurstLead)).Truncate(time.Second), paths: map[string]string{}}
	b.nodeAt = b.at.Add(skew)
	for i := range pods {
		c := &pods[i].Spec.Containers[0]
		for j := range c.Env {
			if c.Env[j].Name == "BURST_AT" {
				c.Env[j].Value = strconv.FormatInt(b.nodeAt.Unix(), 10)
			}
		}
		if req != nil {
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: *req}
		}
		b.names = append(b.names, pods[i].Name)
	}
	if _, err := r.Lab.CreatePinnedPods(ctx, r.Namespace, r.Node, images.AgnhostImage, pods); err != nil {
		return nil, err
	}
	// Every pod's cgroup, placed now or later (a Pending one is placed
	// once an eviction frees its request): the API server sets the QoS
	// class and the UID at creation.
	for _, name := range b.names {
		p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get pod %s/%s: %w", r.Namespace, name, err)
		}
		if b.paths[name], err = r.podCgroupPath(p); err != nil {
			return nil, err
		}
	}
	err = wait.Until(ctx, wait.Within{What: "the burst's pods running (or Pending for lack of memory)", Timeout: r.t().PodStart, Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		b.pending = nil
		for _, name := range b.names {
			p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
			g.Expect(err).NotTo(gomega.HaveOccurred())
			if unschedulable(p) {
				b.pending = append(b.pending, name)
				continue
			}
			g.Expect(p.Status.ContainerStatuses).To(gomega.HaveLen(1), "pod %s", name)
			st := p.Status.ContainerStatuses[0].State
			g.Expect(st.Running).NotTo(gomega.BeNil(), "pod %s running", name)
			if !st.Running.StartedAt.Time.Before(b.nodeAt) {
				gomega.StopTrying(fmt.Sprintf("pod %s started at %s (node clock), not before the burst at %s: the replicas would not allocate together (raise %s)", name, st.Running.StartedAt.Format(time.TimeOnly), b.nodeAt.Format(time.TimeOnly), scenarios.TimeoutScaleEnv)).Now()
			}
		}
	})
	if err != nil {
		return nil, err
	}
	r.env.Logf("burst: %d replicas (requests %v) allocate %s each at %s; running %d, Pending %v", Replicas, req, matchers.Bytes(BurstSize), b.at.Format(time.TimeOnly), len(b.names)-len(b.pending), b.pending)
	return b, nil
}

// unschedulable: the scheduler refused the pod for lack of memory.
func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && strings.Contains(c.Message, "Insufficient memory") {
			return true
		}
	}
	return false
}

// kills keeps the kills of the burst's pods, in the kernel's order.
func (b *burstRun) kills(all []nodeexec.OOMKill) []nodeexec.OOMKill {
	var out []nodeexec.OOMKill
	for _, path := range b.paths {
		out = append(out, killsIn(all, path)...)
	}
	slices.SortFunc(out, func(a, b nodeexec.OOMKill) int { return cmp.Compare(a.At, b.At) })
	return out
}

// describeKills lists kills by pod (paths: pod name → cgroup path), with
// the time from the first one.
func describeKills(kills []nodeexec.OOMKill, paths map[string]string) string {
	var parts []string
	for _, k := range kills {
		pod := "?"
		for name, path := range paths {
			if strings.Contains(k.TaskMemcg+"/", path+"/") {
				pod = name
			}
		}
		parts = append(parts, fmt.Sprintf("%s pid %d of pod %s at +%.1fs (anon-rss %d MiB, oom_score_adj %d)", k.Task, k.PID, pod, k.At-kills[0].At, k.AnonRSSKiB>>10, k.OOMScoreAdj))
	}
	return strings.Join(parts, "; ")
}

// oomKilledPods names the pods with an OOMKilled termination (now or last).
func (b *burstRun) oomKilledPods(ctx context.Context) []string {
	var out []string
	for _, name := range b.names {
		p, err := b.r.Lab.Client.CoreV1().Pods(b.r.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
				if t != nil && t.Reason == "OOMKilled" {
					out = append(out, fmt.Sprintf("%s (exit %d)", name, t.ExitCode))
				}
			}
		}
	}
	return out
}

// evictions are the exporter's Evicted lines for the burst's pods.
func (b *burstRun) evictions(lines []EventLine) []EventLine {
	var out []EventLine
	for _, l := range lines {
		for _, name := range b.names {
			if l.Reason == "Evicted" && l.Object == "Pod/"+name {
				out = append(out, l)
			}
		}
	}
	return out
}

// describe says each pod's phase, reason and container state.
func (b *burstRun) describe(ctx context.Context) string {
	var parts []string
	for _, name := range b.names {
		p, err := b.r.Lab.Client.CoreV1().Pods(b.r.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			parts = append(parts, name+": "+err.Error())
			continue
		}
		s := fmt.Sprintf("%s %s", name, p.Status.Phase)
		if p.Status.Reason != "" {
			s += " " + p.Status.Reason
		}
		for _, cs := range p.Status.ContainerStatuses {
			s += fmt.Sprintf(" restarts %d", cs.RestartCount)
			if t := cs.LastTerminationState.Terminated; t != nil {
				s += " last " + t.Reason
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// endBurst deletes the burst's pods and waits until the pods cgroup has
// given their memory back.
func (r *Runbook) endBurst(ctx context.Context, b *burstRun) error {
	if err := r.deletePods(ctx, b.names...); err != nil {
		return err
	}
	return wait.Until(ctx, wait.Within{What: "the pods cgroup of " + r.Node + " back near its usage before the burst", Timeout: r.env.Scaled(Timeouts.Settled), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		m, err := nodeexec.ReadMemoryStats(ctx, r.node, r.cgroupVersion, r.podsDir)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(m.WorkingSet).To(gomega.BeNumerically("<", r.podsBefore.WorkingSet+LimitHeadroom), "working set %s", m)
	})
}

// watchUntil lets the kubelet act until t (the scenario's observation
// window), failing only on a cancelled context.
func (r *Runbook) watchUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// deletePods deletes pods of the namespace and waits until they are gone.
func (r *Runbook) deletePods(ctx context.Context, names ...string) error {
	zero := int64(0)
	for _, n := range names {
		err := r.Lab.Client.CoreV1().Pods(r.Namespace).Delete(ctx, n, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s/%s: %w", r.Namespace, n, err)
		}
	}
	return wait.Until(ctx, wait.Within{What: "pods " + strings.Join(names, ", ") + " gone", Timeout: r.t().Cleanup, Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		for _, n := range names {
			_, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, n, metav1.GetOptions{})
			g.Expect(apierrors.IsNotFound(err)).To(gomega.BeTrue(), "pod %s still there (%v)", n, err)
		}
	})
}

// waitReported waits until node-problem-detector has an OOMKilling event
// naming each kill's PID, and returns those events.
func (r *Runbook) waitReported(ctx context.Context, kills []nodeexec.OOMKill, from time.Time) ([]EventLine, error) {
	var reported []EventLine
	err := wait.Until(ctx, wait.Within{What: "node-problem-detector's OOMKilling event for each kernel kill", Timeout: r.env.Scaled(Timeouts.Reported), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		var err error
		reported, err = r.reportedFor(kills, from)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(reported).To(gomega.HaveLen(len(kills)), "OOMKilling events naming the kills' PIDs %v (exporter errors: %v)", pids(kills), r.events.Errors())
	})
	return reported, err
}

// reportedFor returns node-problem-detector's OOMKilling lines that name
// one of the kills' PIDs (on a kind node it reports every kill on the
// host's kernel log, other clusters' too).
func (r *Runbook) reportedFor(kills []nodeexec.OOMKill, from time.Time) ([]EventLine, error) {
	lines, err := Query(r.events.Log(), from, time.Now().Add(Timeouts.Reported), "OOMKilling")
	if err != nil {
		return nil, err
	}
	var out []EventLine
	for _, k := range kills {
		for _, l := range lines {
			if strings.Contains(l.Message, fmt.Sprintf("Killed process %d (", k.PID)) && l.Object == "Node/"+r.Node {
				out = append(out, l)
				break
			}
		}
	}
	return out, nil
}

func pids(kills []nodeexec.OOMKill) []int {
	var out []int
	for _, k := range kills {
		out = append(out, k.PID)
	}
	return out
}

// logLines writes exporter lines into the step's log, as the exporter's
// stdout would show them.
func (r *Runbook) logLines(lines []EventLine) {
	for _, l := range lines {
		if b, err := json.Marshal(l); err == nil {
			r.env.Logf("exporter: %s", b)
		}
	}
}

// markKernelLog remembers the kernel log's last timestamp: later kills are
// the step's.
func (r *Runbook) markKernelLog(ctx context.Context) error {
	lines, err := nodeexec.ReadKernelLog(ctx, r.node)
	if err != nil {
		return err
	}
	r.kernelMark = 0
	if len(lines) > 0 {
		r.kernelMark = lines[len(lines)-1].At
	}
	return nil
}

// killsSinceMark reads the kernel's OOM kills after the mark.
func (r *Runbook) killsSinceMark(ctx context.Context) ([]nodeexec.OOMKill, error) {
	lines, err := nodeexec.ReadKernelLog(ctx, r.node)
	if err != nil {
		return nil, err
	}
	var out []nodeexec.OOMKill
	for _, k := range nodeexec.ParseOOMKills(lines) {
		if k.At > r.kernelMark {
			out = append(out, k)
		}
	}
	return out, nil
}

// killsIn keeps the kills of processes in the cgroup at path or below it.
func killsIn(kills []nodeexec.OOMKill, path string) []nodeexec.OOMKill {
	var out []nodeexec.OOMKill
	for _, k := range kills {
		if strings.Contains(k.TaskMemcg+"/", path+"/") {
			out = append(out, k)
		}
	}
	return out
}

// podCgroupPath is the pod's cgroup path on the node.
func (r *Runbook) podCgroupPath(p *corev1.Pod) (string, error) {
	return nodeexec.ContainerCgroup{Driver: r.driver, Root: r.root, QOS: p.Status.QOSClass, PodUID: string(p.UID)}.PodPath()
}

// requestedOnNode sums the memory requests of the worker's pods that hold
// them (not finished).
func (r *Runbook) requestedOnNode(ctx context.Context) (int64, error) {
	pods, err := r.Lab.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + r.Node})
	if err != nil {
		return 0, fmt.Errorf("list pods on %s: %w", r.Node, err)
	}
	var sum int64
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		var apps, inits int64
		for _, c := range p.Spec.Containers {
			apps += c.Resources.Requests.Memory().Value()
		}
		for _, c := range p.Spec.InitContainers {
			inits = max(inits, c.Resources.Requests.Memory().Value())
		}
		sum += max(apps, inits)
		if p.Spec.Overhead != nil {
			sum += p.Spec.Overhead.Memory().Value()
		}
	}
	return sum, nil
}

// describeLines lists events with their offset from t0 (none when there
// are none).
func describeLines(lines []EventLine, t0 time.Time, none string) string {
	if len(lines) == 0 {
		return none
	}
	var parts []string
	for _, l := range lines {
		parts = append(parts, fmt.Sprintf("%s %s at %+ds", l.Reason, l.Object, int(l.Time.Sub(t0).Seconds())))
	}
	return strings.Join(parts, ", ")
}

// checkRoom refuses to retune when the node's memory could not hold the
// burst (MemAvailable from the node's /proc/meminfo: a kind node's is the
// host's, so the host is never pushed into a whole-machine OOM), when the
// node swaps under cgroup v1 (the kubelet sets no swap limit there, so
// containers would swap instead of being killed), or when the pods the
// worker runs request more than the smaller allocatable would leave for
// two replicas (the restarted kubelet would reject running pods).
func (r *Runbook) checkRoom(ctx context.Context) error {
	b, err := nodeexec.ReadFile(ctx, r.node, "/proc/meminfo")
	if err != nil {
		return err
	}
	mi, err := meminfo.Parse(string(b))
	if err != nil {
		return fmt.Errorf("node %s: /proc/meminfo: %w", r.Node, err)
	}
	if need := uint64(Replicas*BurstSize + LimitHeadroom); mi["MemAvailable"] < need {
		return scenarios.Skipf("the burst needs %s of free memory for a moment; node %s has MemAvailable %s (/proc/meminfo; on a kind node, the host's)", matchers.Bytes(int64(need)), r.Node, matchers.Bytes(int64(mi["MemAvailable"])))
	}
	if r.cgroupVersion == nodeexec.CgroupV1 && mi["SwapTotal"] > 0 {
		return scenarios.Skipf("node %s has swap (SwapTotal %s) under cgroup v1, where the kubelet limits no swap: containers over a limit would swap rather than be OOM-killed", r.Node, matchers.Bytes(int64(mi["SwapTotal"])))
	}
	requested, err := r.requestedOnNode(ctx)
	if err != nil {
		return err
	}
	threshold := resource.MustParse(EvictionThreshold)
	if left := r.limit - threshold.Value() - requested; left < 2*minRequest {
		return scenarios.Skipf("node %s's pods request %s of memory; with allocatable %s only %s would be left, under the %s two replicas need", r.Node, matchers.Bytes(requested), matchers.Bytes(r.limit-threshold.Value()), matchers.Bytes(left), matchers.Bytes(2*minRequest))
	}
	return nil
}

// nodeClockSkew is the node's clock minus this host's (BURST_AT and the
// containers' start times are the node's).
func (r *Runbook) nodeClockSkew(ctx context.Context) (time.Duration, error) {
	before := time.Now()
	out, err := nodeexec.Run(ctx, r.node, "date", "+%s.%N")
	if err != nil {
		return 0, err
	}
	after := time.Now()
	secs, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		return 0, fmt.Errorf("node %s: date +%%s.%%N printed %q: %w", r.Node, out, err)
	}
	mid := before.Add(after.Sub(before) / 2)
	return time.Unix(0, int64(secs*float64(time.Second))).Sub(mid), nil
}

// waitNoPressure waits until the worker has no MemoryPressure condition
// and taint (the pitfall's evictions set them), so the fix's pods are
// judged by their requests alone.
func (r *Runbook) waitNoPressure(ctx context.Context) error {
	return wait.Until(ctx, wait.Within{What: "node " + r.Node + " without MemoryPressure and its taint", Timeout: r.env.Scaled(Timeouts.NoPressure), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeMemoryPressure {
				g.Expect(c.Status).To(gomega.Equal(corev1.ConditionFalse), "MemoryPressure")
			}
		}
		for _, t := range n.Spec.Taints {
			g.Expect(t.Key).NotTo(gomega.Equal(corev1.TaintNodeMemoryPressure), "taints")
		}
	})
}
