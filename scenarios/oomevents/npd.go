package oomevents

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
)

// npdFixture holds node-problem-detector's objects.
const npdFixture = "oom-events/node-problem-detector.yaml"

// npdBinding is the fixture's ClusterRoleBinding: cluster-scoped, so
// cleanup deletes it by name, and a run finding it left over deletes it
// first.
const npdBinding = "nodelab-oom-events-node-problem-detector"

// npdPod is the fixture's pod.
const npdPod = "node-problem-detector"

// startNPD builds (offline) or pulls node-problem-detector's image, then
// creates its objects: the pod on the worker, its events in the
// scenario's namespace.
func (r *Runbook) startNPD(ctx context.Context) error {
	img := images.NodeProblemDetector()
	if err := addon.EnsureImages(ctx, r.Lab, r.Addons, img); err != nil {
		return err
	}
	objs, err := manifest.Decode(fixtures.FS, npdFixture)
	if err != nil {
		return err
	}
	ref := img.Ref(addon.Source(r.Lab))
	for _, u := range objs {
		switch u.GetKind() {
		case "ClusterRoleBinding":
			subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
			for _, s := range subjects {
				if m, ok := s.(map[string]any); ok {
					m["namespace"] = r.Namespace
				}
			}
			if err := unstructured.SetNestedSlice(u.Object, subjects, "subjects"); err != nil {
				return fmt.Errorf("%s: set the binding's subjects: %w", npdFixture, err)
			}
		case "Pod":
			if err := r.pinNPD(u, ref); err != nil {
				return err
			}
		}
	}
	ap, err := manifest.NewApplier(r.Lab.Config)
	if err != nil {
		return err
	}
	r.bindingCreated = true
	if err := ap.Create(ctx, objs, manifest.InNamespace(r.Namespace)); err != nil {
		return err
	}
	p, err := r.Lab.WaitPodRunning(ctx, r.Namespace, npdPod, r.t().PodStart)
	if err != nil {
		return fmt.Errorf("node-problem-detector on %s: %w", r.Node, err)
	}
	r.env.Logf("node-problem-detector %s (%s) runs on %s; its OOMKilling events go to namespace %s", images.NodeProblemDetectorVersion, p.Spec.Containers[0].Image, r.Node, r.Namespace)
	return nil
}

// pinNPD sets the pod's node, image and event namespace.
func (r *Runbook) pinNPD(u *unstructured.Unstructured, ref string) error {
	if err := unstructured.SetNestedField(u.Object, r.Node, "spec", "nodeName"); err != nil {
		return fmt.Errorf("%s: set nodeName: %w", npdFixture, err)
	}
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "containers")
	for _, c := range containers {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		m["image"] = ref
		m["imagePullPolicy"] = "IfNotPresent"
		cmd, _ := m["command"].([]any)
		for i, a := range cmd {
			if s, ok := a.(string); ok && strings.HasPrefix(s, "--event-namespace=") {
				cmd[i] = "--event-namespace=" + r.Namespace
			}
		}
	}
	return unstructured.SetNestedSlice(u.Object, containers, "spec", "containers")
}

// deleteBinding deletes the ClusterRoleBinding (the namespace takes the
// rest); gone already is fine.
func (r *Runbook) deleteBinding(ctx context.Context) error {
	err := r.Lab.Client.RbacV1().ClusterRoleBindings().Delete(ctx, npdBinding, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete ClusterRoleBinding %s: %w", npdBinding, err)
	}
	return nil
}
