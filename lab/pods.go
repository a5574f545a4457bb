package lab

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/nodelab/nodelab/lab/manifest"
)

// KindNode returns the kind node container of the named node.
func (l *Lab) KindNode(name string) (nodes.Node, error) {
	kn, err := l.KindNodes()
	if err != nil {
		return nil, err
	}
	for _, n := range kn {
		if n.String() == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("node %s is not a node container of lab %s", name, l.Name)
}

// CreatePodsOn creates pods in namespace, pinned to node by its hostname
// label (so the scheduler still honours taints), marked as nodelab's, with
// every container's image set to image. It waits until each runs and
// returns them as they are then.
func (l *Lab) CreatePodsOn(ctx context.Context, namespace, node, image string, pods []corev1.Pod, timeout time.Duration) ([]corev1.Pod, error) {
	var names []string
	for _, p := range pods {
		p.Namespace = namespace
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[manifest.ManagedByLabel] = manifest.ManagedByValue
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
		for i := range p.Spec.Containers {
			p.Spec.Containers[i].Image = image
			p.Spec.Containers[i].ImagePullPolicy = corev1.PullIfNotPresent
		}
		if _, err := l.Client.CoreV1().Pods(namespace).Create(ctx, &p, metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
			return nil, fmt.Errorf("create pod %s/%s: %w", namespace, p.Name, err)
		}
		names = append(names, p.Name)
	}
	out := make([]corev1.Pod, 0, len(names))
	for _, name := range names {
		p, err := l.WaitPodRunning(ctx, namespace, name, timeout)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, nil
}

// WaitPodRunning waits until the pod is Running with every container
// started, and returns it.
func (l *Lab) WaitPodRunning(ctx context.Context, namespace, name string, timeout time.Duration) (*corev1.Pod, error) {
	var p *corev1.Pod
	last := "not found yet"
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		got, err := l.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		p = got
		last = fmt.Sprintf("phase %s on %q, reason %q %s", p.Status.Phase, p.Spec.NodeName, p.Status.Reason, p.Status.Message)
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod %s/%s ended: %s", namespace, name, last)
		}
		if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) == 0 {
			return false, nil
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running == nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s running within %s: %w; last seen: %s", namespace, name, timeout, err, last)
	}
	return p, nil
}

// PodCondition reports whether the pod's condition t (PodReady,
// ContainersReady, a readiness gate's type) is True.
func PodCondition(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
