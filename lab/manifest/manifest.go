// Package manifest decodes YAML manifests from any fs.FS (so embed.FS works),
// mutates them with typed functions (namespace, labels) and creates them
// through the dynamic client, marking each object as nodelab's.
package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/nodelab/nodelab/lab/wait"
)

// ManagedBy marks objects nodelab created, so cleanup only deletes those.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "nodelab"
)

// Decode reads every YAML document of path in fsys.
func Decode(fsys fs.FS, path string) ([]*unstructured.Unstructured, error) {
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decode manifest %s document %d: %w", path, i, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("manifest %s document %d: missing kind or apiVersion", path, i)
		}
		out = append(out, u)
	}
}

// Mutation changes a decoded object before it is created.
type Mutation func(*unstructured.Unstructured)

// InNamespace sets the namespace (cluster-scoped objects ignore it on create).
func InNamespace(ns string) Mutation {
	return func(u *unstructured.Unstructured) { u.SetNamespace(ns) }
}

// WithLabels merges labels into the object's metadata.
func WithLabels(labels map[string]string) Mutation {
	return func(u *unstructured.Unstructured) {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range labels {
			l[k] = v
		}
		u.SetLabels(l)
	}
}

// Applier creates objects through the dynamic client.
type Applier struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

// NewApplier builds an Applier for a cluster.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return &Applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// Create applies the mutations plus the managed-by label and creates each object.
func (a *Applier) Create(ctx context.Context, objs []*unstructured.Unstructured, mutations ...Mutation) error {
	for _, u := range objs {
		WithLabels(map[string]string{ManagedByLabel: ManagedByValue})(u)
		for _, m := range mutations {
			m(u)
		}
		ri, err := a.resource(u)
		if err != nil {
			return err
		}
		if _, err := ri.Create(ctx, u, metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
			return fmt.Errorf("create %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}

// CreateFile decodes the manifest at path in fsys (a fixture) and creates
// its objects with the mutations: the usual Decode, NewApplier, Create in
// one call. Create's errors are wrapped, so apierrors.IsAlreadyExists works.
func CreateFile(ctx context.Context, cfg *rest.Config, fsys fs.FS, path string, mutations ...Mutation) error {
	objs, err := Decode(fsys, path)
	if err != nil {
		return err
	}
	ap, err := NewApplier(cfg)
	if err != nil {
		return err
	}
	return ap.Create(ctx, objs, mutations...)
}

// Apply server-side applies each object (as field manager "nodelab",
// forcing conflicts), so applying the same objects again is a no-op. The
// managed-by label is added like Create does.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured, mutations ...Mutation) error {
	for _, u := range objs {
		WithLabels(map[string]string{ManagedByLabel: ManagedByValue})(u)
		for _, m := range mutations {
			m(u)
		}
		ri, err := a.resource(u)
		if err != nil {
			return err
		}
		if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "nodelab", Force: true}); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}

// Delete deletes each object (background propagation), in order; objects
// already gone, or of a kind the cluster no longer serves, are skipped.
func (a *Applier) Delete(ctx context.Context, objs []*unstructured.Unstructured) error {
	bg := metav1.DeletePropagationBackground
	for _, u := range objs {
		ri, err := a.resource(u)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}

// DeleteAndWait deletes objs (Delete) and waits until they are gone
// (WaitGone), within timeout.
func (a *Applier) DeleteAndWait(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration) error {
	if err := a.Delete(ctx, objs); err != nil {
		return err
	}
	return a.WaitGone(ctx, objs, timeout)
}

// WaitGone waits, within timeout, until none of objs exists any more (a
// kind the cluster no longer serves counts as gone).
func (a *Applier) WaitGone(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration) error {
	what := fmt.Sprintf("%d objects gone", len(objs))
	return wait.Until(ctx, wait.Within{What: what, Timeout: timeout, Poll: gonePoll}, func(g gomega.Gomega) {
		var left []string
		for _, u := range objs {
			ri, err := a.resource(u)
			if meta.IsNoMatchError(err) {
				continue
			}
			g.Expect(err).NotTo(gomega.HaveOccurred())
			if _, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				g.Expect(err).NotTo(gomega.HaveOccurred(), "get %s %s", u.GetKind(), u.GetName())
				left = append(left, u.GetKind()+" "+u.GetName())
			}
		}
		g.Expect(left).To(gomega.BeEmpty(), "still there")
	})
}

// ResetMapping forgets the cached API discovery, after new CRDs.
func (a *Applier) ResetMapping() {
	if r, ok := a.mapper.(meta.ResettableRESTMapper); ok {
		r.Reset()
	}
}

// Namespaced reports whether objects of u's kind live in a namespace.
func (a *Applier) Namespaced(u *unstructured.Unstructured) (bool, error) {
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return false, fmt.Errorf("map %s: %w", gvk, err)
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

func (a *Applier) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.dyn.Resource(m.Resource).Namespace(u.GetNamespace()), nil
	}
	return a.dyn.Resource(m.Resource), nil
}

// DecodePods decodes a fixture file that holds only pods into typed pods.
func DecodePods(fsys fs.FS, path string) ([]corev1.Pod, error) {
	objs, err := Decode(fsys, path)
	if err != nil {
		return nil, err
	}
	pods := make([]corev1.Pod, 0, len(objs))
	for _, o := range objs {
		var p corev1.Pod
		if o.GetKind() != "Pod" {
			return nil, fmt.Errorf("%s: %s %s is not a Pod", path, o.GetKind(), o.GetName())
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &p); err != nil {
			return nil, fmt.Errorf("%s: pod %s: %w", path, o.GetName(), err)
		}
		pods = append(pods, p)
	}
	return pods, nil
}

// CRDResource is the API resource of CustomResourceDefinitions.
var CRDResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// WaitEstablished waits until the named CRD is Established, within timeout.
func WaitEstablished(ctx context.Context, dyn dynamic.Interface, name string, timeout time.Duration) error {
	err := wait.Until(ctx, wait.Within{What: "CRD " + name + " Established", Timeout: timeout, Poll: establishedPoll}, func(g gomega.Gomega) {
		u, err := dyn.Resource(CRDResource).Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get CRD %s", name)
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		established := false
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				established = true
			}
		}
		g.Expect(established).To(gomega.BeTrue(), "last seen: conditions %v", conds)
	})
	if err != nil {
		return fmt.Errorf("%w (see `kubectl get crd %s -o yaml`)", err, name)
	}
	return nil
}
