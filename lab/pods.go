package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/wait"
)

// CreatePodsOn creates pods in namespace pinned to node (CreatePinnedPods)
// and waits until each runs; it returns them as they are then.
func (l *Lab) CreatePodsOn(ctx context.Context, namespace, node, image string, pods []corev1.Pod, timeout time.Duration) ([]corev1.Pod, error) {
	names, err := l.CreatePinnedPods(ctx, namespace, node, image, pods)
	if err != nil {
		return nil, err
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

// CreatePinnedPods creates pods in namespace, pinned to node by its
// hostname label (so the scheduler still honours taints), marked as
// nodelab's, with every container's (and init container's) image set to image (when not empty),
// and returns their names without waiting for them.
func (l *Lab) CreatePinnedPods(ctx context.Context, namespace, node, image string, pods []corev1.Pod) ([]string, error) {
	var names []string
	for _, p := range pods {
		p.Namespace = namespace
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[manifest.ManagedByLabel] = manifest.ManagedByValue
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
		for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for i := range cs {
				if image != "" {
					cs[i].Image = image
				}
				cs[i].ImagePullPolicy = corev1.PullIfNotPresent
			}
		}
		if _, err := l.Client.CoreV1().Pods(namespace).Create(ctx, &p, metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
			return names, fmt.Errorf("create pod %s/%s: %w", namespace, p.Name, err)
		}
		names = append(names, p.Name)
	}
	return names, nil
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
		if err := ImagePullFailure(p); err != nil {
			gomega.StopTrying(err.Error()).Now()
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

// imagePullFailures are the container waiting reasons that mean the image
// cannot be had the way the pod asks for it: waiting longer only delays the
// error (the kubelet's back-off grows to five minutes).
var imagePullFailures = map[string]bool{
	"ErrImagePull":      true,
	"ImagePullBackOff":  true,
	"ErrImageNeverPull": true,
	"InvalidImageName":  true,
}

// ImagePullFailure returns an error naming the image, the node, the
// kubelet's message and what to do when a container of p cannot get its
// image, and nil otherwise. Pod waits call it on every poll and stop at
// once (gomega.StopTrying) instead of timing out minutes later with
// "context deadline exceeded".
func ImagePullFailure(p *corev1.Pod) error {
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		w := cs.State.Waiting
		if w == nil || !imagePullFailures[w.Reason] {
			continue
		}
		return fmt.Errorf("pod %s/%s container %s on node %q cannot get image %s: %s: %s; "+
			"make the image available to the node: a lab nodelab created loads its images itself (nodelab images build), "+
			"any other cluster pulls them, so push it to a registry it can reach (nodelab images push --to REGISTRY)",
			p.Namespace, p.Name, cs.Name, p.Spec.NodeName, cs.Image, w.Reason, w.Message)
	}
	return nil
}

// StopOnImagePullFailure ends the pod wait it is called in at once
// (gomega.StopTrying) when one of pods cannot get its image.
func StopOnImagePullFailure(pods []corev1.Pod) {
	for i := range pods {
		if err := ImagePullFailure(&pods[i]); err != nil {
			gomega.StopTrying(err.Error()).Now()
		}
	}
}
