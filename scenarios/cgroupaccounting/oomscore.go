package cgroupaccounting

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodelab/nodelab/lab/nodeexec"
)

// The oom_score_adj the kubelet asks for (pkg/kubelet/qos).
const (
	guaranteedOOMScoreAdj = -997
	besteffortOOMScoreAdj = 1000
)

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

// qosWant is a pod's QoS class and the oom_score_adj the kubelet asks for
// on its main process.
type qosWant struct {
	qos corev1.PodQOSClass
	adj int
}

// kubeletAsks is what the kubelet asks for each pod of the fixture on a
// node of capacity bytes (app and control request 200Mi).
func kubeletAsks(capacity int64) map[string]qosWant {
	return map[string]qosWant{
		"guaranteed": {corev1.PodQOSGuaranteed, guaranteedOOMScoreAdj},
		"app":        {corev1.PodQOSBurstable, burstableOOMScoreAdj(200<<20, capacity)},
		"control":    {corev1.PodQOSBurstable, burstableOOMScoreAdj(200<<20, capacity)},
		"besteffort": {corev1.PodQOSBestEffort, besteffortOOMScoreAdj},
	}
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

// checkQoS reads a pod's QoS class and the oom_score_adj of its main
// process and returns what differs from w; a value clamped to the
// runtime's own runtimeAdj (containerd's restrict_oom_score_adj) is
// reported, not a problem.
func (r *Runbook) checkQoS(ctx context.Context, name string, w qosWant, runtimeAdj int) ([]string, error) {
	var problems []string
	p, err := r.getPod(name)(ctx)
	if err != nil {
		return nil, err
	}
	if p.Status.QOSClass != w.qos {
		problems = append(problems, fmt.Sprintf("%s: QoS class %s, want %s", name, p.Status.QOSClass, w.qos))
	}
	// Chaos may have restarted the app container: read its cgroup anew.
	dir, err := r.containerCgroup(ctx, p)
	if err != nil {
		return nil, err
	}
	r.cgroups[name] = dir
	ps, err := r.processes(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("no process in %s's cgroup %s", name, dir)
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
	return problems, nil
}
