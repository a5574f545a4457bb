package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/wait"
)

// CreateNamespace creates a namespace named <prefix>-<random>, marked as nodelab's.
func (l *Lab) CreateNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: prefix + "-",
		Labels:       map[string]string{manifest.ManagedByLabel: manifest.ManagedByValue},
	}}
	got, err := l.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create namespace %s-*: %w", prefix, err)
	}
	return got.Name, nil
}

// DeleteNamespace deletes a namespace nodelab created and waits until it is
// gone; a missing namespace is fine, one without nodelab's label is refused.
func (l *Lab) DeleteNamespace(ctx context.Context, name string, timeout time.Duration) error {
	ns, err := l.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	if ns.Labels[manifest.ManagedByLabel] != manifest.ManagedByValue {
		return fmt.Errorf("namespace %s is not nodelab's (no %s=%s label): not deleting it", name, manifest.ManagedByLabel, manifest.ManagedByValue)
	}
	if err := l.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	err = wait.Until(ctx, wait.Within{What: "namespace " + name + " gone", Timeout: timeout, Poll: namespaceGonePoll}, func(g gomega.Gomega) {
		ns, err := l.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		seen := fmt.Sprintf("get: %v", err)
		if err == nil {
			seen = "phase " + string(ns.Status.Phase)
		}
		g.Expect(apierrors.IsNotFound(err)).To(gomega.BeTrue(), "last seen: namespace %s %s", name, seen)
	})
	if err != nil {
		return fmt.Errorf("namespace %s still exists after %s: %w", name, timeout, err)
	}
	return nil
}
