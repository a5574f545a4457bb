package ingressrollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

func (r *Runbook) replicas() int {
	if r.base.Spec.Replicas == nil {
		return 1
	}
	return int(*r.base.Spec.Replicas)
}

func (r *Runbook) requireDeployed() error {
	if r.Namespace == "" {
		return errors.New("the scenario is not deployed: run Deploy first")
	}
	return nil
}

// setDeployment sets the Traefik Deployment to the fixture plus t; the
// caller waits for the rollout that starts.
func (r *Runbook) setDeployment(ctx context.Context, t Tuning) error {
	want := r.base.DeepCopy()
	t.apply(want)
	apps := r.Lab.Client.AppsV1().Deployments(r.Namespace)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := apps.Get(ctx, Deployment, metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Spec = want.Spec
		_, err = apps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "nodelab"})
		return err
	}); err != nil {
		return fmt.Errorf("set traefik tuning %q: %w", t.Name, err)
	}
	return nil
}

// restart does what `kubectl rollout restart` does.
func (r *Runbook) restart(ctx context.Context, at time.Time) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartedAt, at.Format(time.RFC3339Nano))
	_, err := r.Lab.Client.AppsV1().Deployments(r.Namespace).Patch(ctx, Deployment, "application/strategic-merge-patch+json",
		[]byte(patch), metav1.PatchOptions{FieldManager: "nodelab-rollout"})
	if err != nil {
		return fmt.Errorf("rollout restart deployment/%s: %w", Deployment, err)
	}
	return nil
}

// waitRolledOut waits until a Deployment has n updated, available
// replicas and no other pod, terminating ones included: the rollout is
// over only when the old pods are gone.
func (r *Runbook) waitRolledOut(ctx context.Context, name string, n int) error {
	w := wait.Within{What: fmt.Sprintf("deployment %s rolled out (%d updated, available replicas and no other pod)", name, n),
		Timeout: r.t().PodStart, Poll: Timeouts.RolloutPoll}
	err := wait.Until(ctx, w, func(g gomega.Gomega) {
		d, err := r.Lab.Client.AppsV1().Deployments(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			gomega.StopTrying("get deployment " + name).Wrap(err).Now()
		}
		pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + name})
		if err != nil {
			gomega.StopTrying("list pods of " + name).Wrap(err).Now()
		}
		lab.StopOnImagePullFailure(pods.Items)
		s := d.Status
		last := fmt.Sprintf("generation %d observed %d, replicas %d, updated %d, available %d, pods %s",
			d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas, podStates(pods.Items))
		g.Expect(s.ObservedGeneration >= d.Generation && int(s.UpdatedReplicas) == n && int(s.AvailableReplicas) == n &&
			int(s.Replicas) == n && len(pods.Items) == n && !slices.ContainsFunc(pods.Items, terminating)).To(gomega.BeTrue(), last)
	})
	if err != nil {
		return fmt.Errorf("deployment %s did not roll out: %w\n(the pods' events are in the failure bundle; on a slow host set %s=2)", name, err, scenarios.TimeoutScaleEnv)
	}
	return nil
}

func terminating(p corev1.Pod) bool { return p.DeletionTimestamp != nil }

func podStates(pods []corev1.Pod) string {
	var s []string
	for _, p := range pods {
		st := string(p.Status.Phase)
		if terminating(p) {
			st = "Terminating"
		} else if lab.PodCondition(&p, corev1.PodReady) {
			st = "Ready"
		}
		s = append(s, p.Name+" "+st+" on "+p.Spec.NodeName)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// podNames lists the Traefik pods that are not terminating.
func (r *Runbook) podNames(ctx context.Context) ([]string, error) {
	pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: appLabel})
	if err != nil {
		return nil, fmt.Errorf("list traefik pods: %w", err)
	}
	var names []string
	for _, p := range pods.Items {
		if !terminating(p) {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
