package ingressrollout

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/manifest"
)

// fixtureObjects decodes the scenario's fixtures for namespace ns: the
// cluster-scoped RBAC objects named after ns (remembered in r.clusterObj
// for Cleanup), the Deployments set to the images traefikRef and echoRef,
// and Traefik's Deployment and Service kept as r.base and r.baseSvc, the
// fixture every spec's tuning and Service start from.
func (r *Runbook) fixtureObjects(ns, traefikRef, echoRef string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, f := range []string{"echo.yaml", "ingress.yaml", "traefik.yaml"} {
		o, err := manifest.Decode(fixtures.FS, "ingress-rollout/"+f)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	for _, u := range objs {
		switch u.GetKind() {
		case "ClusterRole", "ClusterRoleBinding":
			// Cluster-scoped: one per run, named after the namespace.
			u.SetName(u.GetName() + "-" + ns)
			r.clusterObj = append(r.clusterObj, u.GetKind()+"/"+u.GetName())
			if u.GetKind() == "ClusterRoleBinding" {
				_ = unstructured.SetNestedField(u.Object, u.GetName(), "roleRef", "name")
				subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
				for _, s := range subjects {
					if m, ok := s.(map[string]any); ok {
						m["namespace"] = ns
					}
				}
				_ = unstructured.SetNestedSlice(u.Object, subjects, "subjects")
			}
		case "Deployment":
			ref := echoRef
			if u.GetName() == Deployment {
				ref = traefikRef
			}
			if err := setImage(u, ref); err != nil {
				return nil, err
			}
			if u.GetName() == Deployment {
				if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r.base); err != nil {
					return nil, fmt.Errorf("traefik deployment fixture: %w", err)
				}
			}
		case "Service":
			if u.GetName() == Service {
				if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r.baseSvc); err != nil {
					return nil, fmt.Errorf("traefik service fixture: %w", err)
				}
			}
		}
	}
	return objs, nil
}

// deleteClusterObjects deletes the cluster-scoped objects fixtureObjects
// named after the run's namespace; NotFound is no error.
func (r *Runbook) deleteClusterObjects(ctx context.Context) []error {
	var errs []error
	for _, o := range r.clusterObj {
		kind, name, _ := strings.Cut(o, "/")
		var err error
		switch kind {
		case "ClusterRole":
			err = r.Lab.Client.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
		case "ClusterRoleBinding":
			err = r.Lab.Client.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", o, err))
		}
	}
	r.clusterObj = nil
	return errs
}

// setImage sets the image of the only container of a Deployment.
func setImage(u *unstructured.Unstructured, ref string) error {
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		return fmt.Errorf("deployment %s: want one container, the fixture has %d", u.GetName(), len(cs))
	}
	cs[0].(map[string]any)["image"] = ref
	return unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
}
