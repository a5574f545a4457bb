package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/wait"
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
	what := fmt.Sprintf("pod %s/%s Running with every container started", namespace, name)
	err := wait.Until(ctx, wait.Within{What: what, Timeout: timeout, Poll: podRunningPoll}, func(g gomega.Gomega) {
		got, err := l.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get pod %s/%s", namespace, name)
		p = got
		last := fmt.Sprintf("phase %s on %q, reason %q %s", p.Status.Phase, p.Spec.NodeName, p.Status.Reason, p.Status.Message)
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			gomega.StopTrying(fmt.Sprintf("pod %s/%s ended: %s", namespace, name, last)).Now()
		}
		g.Expect(p.Status.Phase).To(gomega.Equal(corev1.PodRunning), "last seen: %s", last)
		g.Expect(p.Status.ContainerStatuses).NotTo(gomega.BeEmpty(), "last seen: %s, no container status yet", last)
		for _, cs := range p.Status.ContainerStatuses {
			g.Expect(cs.State.Running).NotTo(gomega.BeNil(), "last seen: %s, container %s not running: %s", last, cs.Name, containerState(cs.State))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s running within %s: %w", namespace, name, timeout, err)
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

// containerState says why a container is not running, for wait messages.
func containerState(s corev1.ContainerState) string {
	switch {
	case s.Waiting != nil:
		return fmt.Sprintf("waiting (%s) %s", s.Waiting.Reason, s.Waiting.Message)
	case s.Terminated != nil:
		return fmt.Sprintf("terminated (%s, exit code %d) %s", s.Terminated.Reason, s.Terminated.ExitCode, s.Terminated.Message)
	}
	return "no state yet"
}
