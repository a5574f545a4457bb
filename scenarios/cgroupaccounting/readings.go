package cgroupaccounting

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/podexec"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

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

// pair reads the app's and the control's container cgroups.
func (r *Runbook) pair(ctx context.Context) (app, control nodeexec.MemoryStats, err error) {
	if app, err = r.memory(ctx, "app"); err != nil {
		return app, control, err
	}
	control, err = r.memory(ctx, "control")
	return app, control, err
}

// exec runs a command in a pod's "app" container.
func (r *Runbook) exec(ctx context.Context, pod string, command ...string) (string, error) {
	return podexec.Run(ctx, r.Lab.Config, r.Lab.Client, podexec.Target{Namespace: r.Namespace, Pod: pod, Container: "app"}, command...)
}

// getPod is a getter of one pod of the run's namespace.
func (r *Runbook) getPod(name string) func(context.Context) (*corev1.Pod, error) {
	return func(ctx context.Context) (*corev1.Pod, error) {
		return r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
}

// nodeMemory is the memory capacity of r.Node.
func (r *Runbook) nodeMemory(ctx context.Context) (int64, error) {
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get node %s: %w", r.Node, err)
	}
	return n.Status.Capacity.Memory().Value(), nil
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

// process is one process in the app container's cgroup.
type process struct {
	PID         string
	Comm        string
	OOMScoreAdj int
}

// listProcesses prints "pid comm oom_score_adj" for each process of the
// cgroup directory $1.
const listProcesses = `for p in $(cat "$1/cgroup.procs"); do printf '%s %s %s\n' "$p" "$(cat /proc/$p/comm 2>/dev/null)" "$(cat /proc/$p/oom_score_adj 2>/dev/null)"; done`

// processes lists the processes of a container's cgroup with their
// oom_score_adj, read in the node.
func (r *Runbook) processes(ctx context.Context, pod string) ([]process, error) {
	out, err := nodeexec.Run(ctx, r.node, "sh", "-c", listProcesses, "sh", r.cgroups[pod])
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
