// Package chaos builds and runs Chaos Mesh experiments with the typed
// objects of github.com/chaos-mesh/chaos-mesh/api (never hand-written YAML)
// and waits on their status: AllInjected after create, and on delete, until
// the records finalizer is gone (the daemon cancelled the stressors).
//
// Injection is only proof the daemon started a stressor; whether the load
// is there, and gone afterwards, is for the caller to check in the target's
// cgroup (../shared/notes/chaos-mesh-offline.md §6).
package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/wait"
)

// MemoryStress is a StressChaos memory stressor (memStress) on the pods
// matching Selector in Namespace.
type MemoryStress struct {
	Namespace, Name string
	// Selector are pod labels in Namespace.
	Selector map[string]string
	// ContainerNames are the target containers (empty: the first one).
	ContainerNames []string
	// Workers is memStress --workers.
	Workers int
	// Size is memStress --size: MB is 10^6 bytes, MiB 2^20 (lab/instruments/stress).
	Size string
	// OOMScoreAdj sets the stressor's oom_score_adj (0: the daemon default).
	OOMScoreAdj int
	// Duration is spec.duration; 0 means until deleted.
	Duration time.Duration
}

// NewMemoryStress returns the typed StressChaos for ms.
func NewMemoryStress(ms MemoryStress) *v1alpha1.StressChaos {
	sc := &v1alpha1.StressChaos{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "StressChaos"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ms.Namespace, Name: ms.Name, Labels: map[string]string{"app.kubernetes.io/managed-by": "nodelab"}},
		Spec: v1alpha1.StressChaosSpec{
			ContainerSelector: v1alpha1.ContainerSelector{
				PodSelector: v1alpha1.PodSelector{
					Selector: v1alpha1.PodSelectorSpec{GenericSelectorSpec: v1alpha1.GenericSelectorSpec{
						Namespaces: []string{ms.Namespace}, LabelSelectors: ms.Selector,
					}},
					Mode: v1alpha1.AllMode,
				},
				ContainerNames: ms.ContainerNames,
			},
			Stressors: &v1alpha1.Stressors{MemoryStressor: &v1alpha1.MemoryStressor{
				Stressor: v1alpha1.Stressor{Workers: ms.Workers}, Size: ms.Size, OOMScoreAdj: ms.OOMScoreAdj,
			}},
		},
	}
	if ms.Duration > 0 {
		d := ms.Duration.String()
		sc.Spec.Duration = &d
	}
	return sc
}

// Scheme knows the core and Chaos Mesh types.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Client returns a controller-runtime client for the lab with Scheme.
func Client(l *lab.Lab) (client.Client, error) {
	s, err := Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(l.Config, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("chaos client: %w", err)
	}
	return c, nil
}

// Create creates the experiment.
func Create(ctx context.Context, c client.Client, sc *v1alpha1.StressChaos) error {
	if err := c.Create(ctx, sc); err != nil {
		return fmt.Errorf("create StressChaos %s/%s: %w", sc.Namespace, sc.Name, err)
	}
	return nil
}

func condition(sc *v1alpha1.StressChaos, t v1alpha1.ChaosConditionType) bool {
	for _, c := range sc.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitInjected waits for AllInjected and at least one memStress or
// stress-ng instance the daemon reports (a no-op stressor never has one).
func WaitInjected(ctx context.Context, c client.Client, key types.NamespacedName, timeout time.Duration) error {
	return waitFor(ctx, c, key, timeout, "AllInjected with a running stressor", func(sc *v1alpha1.StressChaos) bool {
		if !condition(sc, v1alpha1.ConditionAllInjected) || len(sc.Status.Instances) == 0 {
			return false
		}
		for _, in := range sc.Status.Instances {
			if in.UID == "" && in.MemoryUID == "" {
				return false
			}
		}
		return true
	})
}

// WaitRecovered waits for AllRecovered (after spec.duration or a pause).
func WaitRecovered(ctx context.Context, c client.Client, key types.NamespacedName, timeout time.Duration) error {
	return waitFor(ctx, c, key, timeout, "AllRecovered", func(sc *v1alpha1.StressChaos) bool {
		return condition(sc, v1alpha1.ConditionAllRecovered)
	})
}

func waitFor(ctx context.Context, c client.Client, key types.NamespacedName, timeout time.Duration, what string, done func(*v1alpha1.StressChaos) bool) error {
	var last string // the last status read, kept across failed reads
	err := wait.Until(ctx, wait.Within{What: fmt.Sprintf("StressChaos %s %s", key, what), Timeout: timeout, Poll: statusPoll}, func(g gomega.Gomega) {
		var sc v1alpha1.StressChaos
		err := c.Get(ctx, key, &sc)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get StressChaos %s; last status: %s", key, last)
		last = describe(&sc)
		g.Expect(done(&sc)).To(gomega.BeTrue(), "last status: %s", last)
	})
	if err != nil {
		return fmt.Errorf("StressChaos %s %s within %s: %w", key, what, timeout, err)
	}
	return nil
}

// Delete deletes the experiment and waits until it is gone: its finalizer
// is removed only when every record is recovered.
func Delete(ctx context.Context, c client.Client, key types.NamespacedName, timeout time.Duration) error {
	sc := &v1alpha1.StressChaos{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := c.Delete(ctx, sc); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete StressChaos %s: %w", key, err)
	}
	var last string // the last status read, kept across failed reads
	err := wait.Until(ctx, wait.Within{What: fmt.Sprintf("StressChaos %s gone", key), Timeout: timeout, Poll: statusPoll}, func(g gomega.Gomega) {
		var cur v1alpha1.StressChaos
		err := c.Get(ctx, key, &cur)
		if err == nil {
			last = describe(&cur)
		}
		g.Expect(apierrors.IsNotFound(err)).To(gomega.BeTrue(), "still there (get: %v); last status: %s", err, last)
	})
	if err != nil {
		return fmt.Errorf("StressChaos %s gone within %s: %w", key, timeout, err)
	}
	return nil
}

// Status summarizes conditions and records, for messages and reports.
func Status(ctx context.Context, c client.Client, key types.NamespacedName) (string, error) {
	var sc v1alpha1.StressChaos
	if err := c.Get(ctx, key, &sc); err != nil {
		return "", err
	}
	return describe(&sc), nil
}

func describe(sc *v1alpha1.StressChaos) string {
	var parts []string
	for _, c := range sc.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s", c.Type, c.Status))
	}
	sort.Strings(parts)
	if sc.Status.Experiment.Records != nil {
		for _, r := range sc.Status.Experiment.Records {
			s := fmt.Sprintf("record %s phase=%s injected=%d recovered=%d", r.Id, r.Phase, r.InjectedCount, r.RecoveredCount)
			if n := len(r.Events); n > 0 {
				e := r.Events[n-1]
				s += fmt.Sprintf(" last event %s %s: %s", e.Type, e.Operation, e.Message)
			}
			parts = append(parts, s)
		}
	}
	for k, in := range sc.Status.Instances {
		parts = append(parts, fmt.Sprintf("instance %s stress-ng=%q memStress=%q", k, in.UID, in.MemoryUID))
	}
	if len(parts) == 0 {
		return "no status yet (is the controller running and the namespace allowed?)"
	}
	return strings.Join(parts, "; ")
}

// InjectMemory creates the memory stress ms and waits up to timeout until
// it runs (AllInjected with a memStress instance).
func InjectMemory(ctx context.Context, c client.Client, ms MemoryStress, timeout time.Duration) (types.NamespacedName, error) {
	key := types.NamespacedName{Namespace: ms.Namespace, Name: ms.Name}
	if err := Create(ctx, c, NewMemoryStress(ms)); err != nil {
		return key, err
	}
	return key, WaitInjected(ctx, c, key, timeout)
}
