package cpumanager

import (
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubectl/pkg/drain"

	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/scenarios"
)

// pickWorker returns the schedulable worker with the fewest pods a drain
// would evict.
func (r *Runbook) pickWorker(ctx context.Context) (nodeexec.Node, error) {
	return scenarios.QuietestWorker(ctx, r.env, "the control plane's kubelet is not restarted, and the check's pods run on it")
}

// repairInterrupted undoes what an interrupted run left on any worker: a
// kubelet config backup (restored the way Restore does, checkpoint
// included) and a cordon this scenario set (marked by cordonAnnotation).
func (r *Runbook) repairInterrupted(ctx context.Context) error {
	workers, err := r.Lab.Workers()
	if err != nil {
		return err
	}
	if err := kubelet.RestoreLeftovers(ctx, workers, func(w nodeexec.Node) kubelet.TuneOptions { return r.tuneOptionsFor(w, false) }); err != nil {
		return err
	}
	for _, w := range workers {
		n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, w.String(), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get node %s: %w", w, err)
		}
		if _, ours := n.Annotations[cordonAnnotation]; ours {
			r.env.Logf("%s was cordoned by an interrupted run (%s): uncordoning it first", w, cordonAnnotation)
			if err := r.setCordon(ctx, n, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// cordonAnnotation marks a node this scenario cordoned, so a later run
// can tell its own cordon from one somebody else set.
const cordonAnnotation = "nodelab.dev/cordoned-by-cpu-manager"

// setCordon cordons or uncordons n with kubectl's drain library, marking
// or unmarking it as cordoned by this scenario.
func (r *Runbook) setCordon(ctx context.Context, n *corev1.Node, cordon bool) error {
	if err := drain.RunCordonOrUncordon(r.drainHelper(ctx), n, cordon); err != nil {
		return fmt.Errorf("cordon=%t %s: %w", cordon, n.Name, err)
	}
	value := "null"
	if cordon {
		value = `"true"`
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%s}}}`, cordonAnnotation, value)
	if _, err := r.Lab.Client.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "nodelab"}); err != nil {
		return fmt.Errorf("mark node %s (%s): %w", n.Name, cordonAnnotation, err)
	}
	return nil
}

// evictable says whether a drain evicts p (scenarios.WorkloadPod).
func (r *Runbook) evictable(p corev1.Pod) bool { return scenarios.WorkloadPod(r.env, p) }

// drainHelper is kubectl drain's library with the options `kubectl drain
// --ignore-daemonsets --delete-emptydir-data` has, leaving node agent pods.
func (r *Runbook) drainHelper(ctx context.Context) *drain.Helper {
	out := logWriter{r.env}
	return &drain.Helper{
		Ctx:                 ctx,
		Client:              r.Lab.Client,
		IgnoreAllDaemonSets: true,
		DeleteEmptyDirData:  true,
		GracePeriodSeconds:  -1,
		Timeout:             r.env.Scaled(Timeouts.Drain),
		Out:                 out,
		ErrOut:              out,
		AdditionalFilters: []drain.PodFilter{func(p corev1.Pod) drain.PodDeleteStatus {
			if p.Namespace == r.Lab.NodeAgentNamespace() {
				return drain.MakePodDeleteStatusSkip()
			}
			return drain.MakePodDeleteStatusOkay()
		}},
		OnPodDeletedOrEvicted: func(p *corev1.Pod, usingEviction bool) {
			r.env.Logf("drain %s: %s/%s gone (eviction API: %t)", r.Node, p.Namespace, p.Name, usingEviction)
		},
	}
}

// drain cordons the worker (remembering that it did) and evicts its pods.
func (r *Runbook) drain(ctx context.Context) error {
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	if !n.Spec.Unschedulable {
		r.cordoned = true
		if err := r.setCordon(ctx, n, true); err != nil {
			return err
		}
	}
	if err := drain.RunNodeDrain(r.drainHelper(ctx), r.Node); err != nil {
		return fmt.Errorf("drain %s (pods that declare no controller are not evicted: delete them, or pick another worker): %w", r.Node, err)
	}
	return nil
}

// checkDrained fails when a pod a drain would evict runs on the worker.
func (r *Runbook) checkDrained(ctx context.Context) error {
	pods, err := r.Lab.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + r.Node})
	if err != nil {
		return fmt.Errorf("list the pods of %s: %w", r.Node, err)
	}
	var left []string
	for _, p := range pods.Items {
		if r.evictable(p) {
			left = append(left, p.Namespace+"/"+p.Name)
		}
	}
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	if len(left) > 0 || !n.Spec.Unschedulable {
		return fmt.Errorf("%s is not drained (unschedulable=%t; pods a drain evicts: %s)", r.Node, n.Spec.Unschedulable, strings.Join(left, ", "))
	}
	return nil
}

// uncordon makes the worker schedulable again if this run cordoned it.
func (r *Runbook) uncordon(ctx context.Context) error {
	if !r.cordoned {
		return nil
	}
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	if err := r.setCordon(ctx, n, false); err != nil {
		return err
	}
	r.cordoned = false
	return nil
}

// logWriter sends the drain helper's lines to the scenario's log.
type logWriter struct{ env scenarios.Env }

func (w logWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" {
			w.env.Logf("drain: %s", line)
		}
	}
	return len(b), nil
}

var _ io.Writer = logWriter{}
