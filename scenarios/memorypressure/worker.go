package memorypressure

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/instruments/meminfo"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

// pickWorker returns the worker with the fewest pods the kubelet could
// evict besides ours (non-critical pods of other namespaces), so no
// bystander is ranked between the scenario's pods.
func (r *Runbook) pickWorker(ctx context.Context) (nodeexec.Node, error) {
	workers, err := r.Lab.Workers()
	if err != nil {
		return nil, err
	}
	pods, err := r.Lab.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	var best nodeexec.Node
	bestCount := -1
	var bystanders []string
	for _, n := range workers {
		var evictable []string
		for _, p := range pods.Items {
			if p.Spec.NodeName == n.String() && p.Status.Phase == corev1.PodRunning && !critical(&p) {
				evictable = append(evictable, p.Namespace+"/"+p.Name)
			}
		}
		if bestCount < 0 || len(evictable) < bestCount {
			best, bestCount, bystanders = n, len(evictable), evictable
		}
	}
	if best == nil {
		return nil, scenarios.Skipf("needs a worker node; lab %s has only a control plane", r.Lab.Name)
	}
	if len(bystanders) > 0 {
		r.env.Logf("worker %s also runs evictable pods that may be evicted too: %s", best, strings.Join(bystanders, ", "))
	}
	return best, nil
}

// critical mirrors the kubelet's IsCriticalPod for API pods: priority at or
// above system-cluster-critical's.
func critical(p *corev1.Pod) bool {
	return p.Spec.Priority != nil && *p.Spec.Priority >= 2000000000
}

// measureWorker reads the host's MemAvailable (when the nodes are kind
// containers on this host) and the worker's memory.available, refuses to run (Skip, with the numbers) when either is
// below NeedBytes, and sets the threshold Headroom below what the worker has
// available.
func (r *Runbook) measureWorker(ctx context.Context) error {
	// Kind node containers share this host's memory; a node reached by an
	// agent has its own, and memory.available below says what it is.
	hostFree := uint64(NeedBytes)
	if r.Lab.DockerAccess() == nil {
		host, err := meminfo.Host()
		if err != nil {
			return fmt.Errorf("read the host's MemAvailable: %w", err)
		}
		hostFree = host["MemAvailable"]
	}
	s, err := kubelet.ReadSummary(ctx, r.Lab.Client, r.Node)
	if err != nil {
		return err
	}
	if s.Node.Memory == nil || s.Node.Memory.AvailableBytes == nil || s.Node.Memory.WorkingSetBytes == nil {
		return fmt.Errorf("node %s: the summary API has no node memory.available", r.Node)
	}
	r.Available = *s.Node.Memory.AvailableBytes
	if hostFree < NeedBytes || r.Available < NeedBytes {
		return scenarios.Skipf("needs %s free for %s of stress plus margin; the host has MemAvailable %s and node %s memory.available %s",
			matchers.Bytes(NeedBytes), matchers.Bytes(HogStress+OverRequestStress), matchers.Bytes(int64(hostFree)), r.Node, matchers.Bytes(int64(r.Available)))
	}
	r.Threshold = r.Available - Headroom
	r.env.Logf("node %s: memory.available %s (working set %s); evictionHard memory.available := %s (available − %s)",
		r.Node, matchers.Bytes(int64(r.Available)), matchers.Bytes(int64(*s.Node.Memory.WorkingSetBytes)), matchers.Bytes(int64(r.Threshold)), matchers.Bytes(Headroom))
	return nil
}

// checkHeadroomLeft fails when the worker's memory.available is no longer
// comfortably above the threshold plus the stress that must not trip it:
// the steps' order assertions would then not mean what they say.
func (r *Runbook) checkHeadroomLeft(ctx context.Context, mustFit int64) error {
	s, err := kubelet.ReadSummary(ctx, r.Lab.Client, r.Node)
	if err != nil {
		return err
	}
	if s.Node.Memory == nil || s.Node.Memory.AvailableBytes == nil {
		return fmt.Errorf("node %s: the summary API has no node memory.available", r.Node)
	}
	left := int64(*s.Node.Memory.AvailableBytes) - int64(r.Threshold)
	r.env.Logf("headroom left above the threshold on %s: %s (the first stress steps need %s of it, plus 128 MiB margin)", r.Node, matchers.Bytes(left), matchers.Bytes(mustFit))
	if left < mustFit+128<<20 {
		return fmt.Errorf("only %s left above the eviction threshold on %s before any stress, %s needed: the worker's own memory grew by %s since Prepare measured it; run the scenario on a lab with nothing else scheduled on its workers, or raise memorypressure.Headroom",
			matchers.Bytes(left), r.Node, matchers.Bytes(mustFit+128<<20), matchers.Bytes(Headroom-left))
	}
	return nil
}
