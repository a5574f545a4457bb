package memorypressure

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
)

const (
	// priorityClass is the hog's PriorityClass (fixtures), above the other
	// pods' default 0.
	priorityClass = "nodelab-memory-pressure-platform"
	labelSide     = "nodelab.dev/side"
	labelRole     = "nodelab.dev/role"
)

func (r *Runbook) createPriorityClass(ctx context.Context) error {
	err := manifest.CreateFile(ctx, r.Lab.Config, fixtures.FS, "memory-pressure/priorityclass.yaml")
	if apierrors.IsAlreadyExists(err) {
		pc, gerr := r.Lab.Client.SchedulingV1().PriorityClasses().Get(ctx, priorityClass, metav1.GetOptions{})
		if gerr != nil || pc.Labels[manifest.ManagedByLabel] != manifest.ManagedByValue {
			return fmt.Errorf("PriorityClass %s exists and is not nodelab's: %w", priorityClass, err)
		}
		r.env.Logf("PriorityClass %s left by an earlier run: reusing it", priorityClass)
		err = nil
	}
	r.createdPC = err == nil
	return err
}

// deletePriorityClass deletes the priority class this run created; it may
// be gone already.
func (r *Runbook) deletePriorityClass(ctx context.Context) error {
	err := r.Lab.Client.SchedulingV1().PriorityClasses().Delete(ctx, priorityClass, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete PriorityClass %s: %w", priorityClass, err)
	}
	return nil
}

// createPods creates the pods of one fixture file on the tuned worker and
// waits until they run.
func (r *Runbook) createPods(ctx context.Context, file string) ([]corev1.Pod, error) {
	pods, err := manifest.DecodePods(fixtures.FS, file)
	if err != nil {
		return nil, err
	}
	return r.Lab.CreatePodsOn(ctx, r.Namespace, r.Node, images.AgnhostImage, pods, r.t().PodStart)
}

func (r *Runbook) getNode(ctx context.Context) (*corev1.Node, error) {
	return r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
}

func (r *Runbook) getPod(name string) func(context.Context) (*corev1.Pod, error) {
	return func(ctx context.Context) (*corev1.Pod, error) {
		return r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
	}
}

// evictedEvent returns the message of the Evicted event of pod, or "".
func (r *Runbook) evictedEvent(pod string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		evs, err := r.Lab.Client.CoreV1().Events(r.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod + ",reason=Evicted"})
		if err != nil {
			return "", err
		}
		for _, e := range evs.Items {
			return e.Message, nil
		}
		return "", nil
	}
}

// newPodStarts schedules a fresh pod onto the worker: the taint is gone
// and the kubelet admits it.
func (r *Runbook) newPodStarts(ctx context.Context) error {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "after-pressure", Labels: map[string]string{manifest.ManagedByLabel: manifest.ManagedByValue}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{corev1.LabelHostname: r.Node},
			Containers: []corev1.Container{{Name: "app", Image: images.AgnhostImage, Args: []string{"pause"},
				ImagePullPolicy: corev1.PullIfNotPresent,
				Resources:       corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
		},
	}
	if _, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pod %s: %w", p.Name, err)
	}
	_, err := r.Lab.WaitPodRunning(ctx, r.Namespace, p.Name, r.t().PodStart)
	return err
}
