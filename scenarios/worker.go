package scenarios

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/nodeexec"
)

// QuietestWorker returns the schedulable worker of env's lab running the
// fewest workload pods (WorkloadPod), so a scenario that changes a node
// or fills its memory disturbs as little as it can. why says, for the
// skip, what the scenario does with the worker.
func QuietestWorker(ctx context.Context, env Env, why string) (nodeexec.Node, error) {
	l := env.Lab
	workers, err := l.Workers()
	if err != nil {
		return nil, err
	}
	if len(workers) == 0 {
		return nil, Skipf("needs a worker (%s); %s has none", why, l.Name)
	}
	pods, err := l.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	count := map[string]int{}
	for _, p := range pods.Items {
		if WorkloadPod(env, p) {
			count[p.Spec.NodeName]++
		}
	}
	var schedulable []nodeexec.Node
	var cordoned []string
	for _, w := range workers {
		n, err := l.Client.CoreV1().Nodes().Get(ctx, w.String(), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get node %s: %w", w, err)
		}
		if n.Spec.Unschedulable {
			cordoned = append(cordoned, w.String())
			continue
		}
		schedulable = append(schedulable, w)
	}
	if len(schedulable) == 0 {
		return nil, Skipf("needs a schedulable worker (%s); %s's workers are all cordoned: %s", why, l.Name, strings.Join(cordoned, ", "))
	}
	sort.SliceStable(schedulable, func(i, j int) bool { return count[schedulable[i].String()] < count[schedulable[j].String()] })
	return schedulable[0], nil
}

// WorkloadPod says whether p is a workload a drain would evict: not
// finished, not a static (mirror) pod, not a DaemonSet's, not one of
// nodelab's node agents.
func WorkloadPod(env Env, p corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	if env.Lab != nil && p.Namespace == env.Lab.NodeAgentNamespace() {
		return false
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return false
		}
	}
	return true
}
