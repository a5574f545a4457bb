package cgroupaccounting

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/scenarios"
)

// pickWorker sets r.node to the lab's first worker; a lab with only a
// control plane is skipped.
func (r *Runbook) pickWorker() error {
	workers, err := r.Lab.Workers()
	if err != nil {
		return err
	}
	if len(workers) == 0 {
		return scenarios.Skipf("needs a worker node; lab %s has only a control plane", r.Lab.Name)
	}
	r.node, r.Node = workers[0], workers[0].String()
	return nil
}

// startPods creates the fixture's pods on r.Node, waits for them to run
// and records each one's container memory cgroup.
func (r *Runbook) startPods(ctx context.Context) error {
	pods, err := manifest.DecodePods(fixtures.FS, "cgroup-accounting/pods.yaml")
	if err != nil {
		return err
	}
	running, err := r.Lab.CreatePodsOn(ctx, r.Namespace, r.Node, images.AgnhostImage, pods, r.t().PodStart)
	if err != nil {
		return err
	}
	r.pods, r.cgroups = map[string]*corev1.Pod{}, map[string]string{}
	for i := range running {
		p := &running[i]
		dir, err := r.containerCgroup(ctx, p)
		if err != nil {
			return err
		}
		r.pods[p.Name], r.cgroups[p.Name] = p, dir
	}
	return nil
}

// containerCgroup finds the memory cgroup directory of a pod's first
// container in the node (anew after a restart: the container ID changes).
func (r *Runbook) containerCgroup(ctx context.Context, p *corev1.Pod) (string, error) {
	dir, _, err := nodeexec.FindContainerCgroup(ctx, r.node, nodeexec.ContainerCgroup{
		QOS: p.Status.QOSClass, PodUID: string(p.UID), ContainerID: p.Status.ContainerStatuses[0].ContainerID})
	return dir, err
}
