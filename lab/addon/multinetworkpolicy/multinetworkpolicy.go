// Package multinetworkpolicy is the multi-networkpolicy addon: the
// MultiNetworkPolicy CRD (scheme.yml of github.com/k8snetworkplumbingwg/
// multi-networkpolicy at Version, downloaded by lab/gomod; v1beta1 is its
// served version)
// and the multi-networkpolicy-iptables enforcer as a DaemonSet. The
// enforcer has no forge build (images.MultiNetworkPolicyUnavailable), so
// Install refuses forge labs with that reason; it needs the multus addon.
package multinetworkpolicy

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing/fstest"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/gomod"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/wait"
)

const (
	// Name is the addon's profile name.
	Name = "multi-networkpolicy"
	// Module and Version hold the CRD (scheme.yml). go.mod does not
	// require it: no package of it is imported, so go mod tidy drops it,
	// and its go 1.13 go.mod (no graph pruning) would pull client-go
	// v0.22's whole graph, old monolithic genproto included, which makes
	// tidy fail with ambiguous googleapis imports.
	Module  = "github.com/k8snetworkplumbingwg/multi-networkpolicy"
	Version = "v1.0.1"
	// DaemonSet runs the enforcer in kube-system.
	DaemonSet = "multi-networkpolicy"
)

// ErrNoForgeBuild is returned by Install on a forge lab.
var ErrNoForgeBuild = errors.New(images.MultiNetworkPolicyUnavailable)

//go:embed daemonset.yaml
var daemonSetYAML string

// Addon installs the MultiNetworkPolicy CRD and enforcer.
type Addon struct{}

// Name implements addon.Addon.
func (Addon) Name() string { return Name }

// Images implements addon.Addon: none for the forge to build (it cannot);
// upstream labs pull the enforcer.
func (Addon) Images() []images.Image { return nil }

// Render returns the CRD and the enforcer's objects with image.
func Render(ctx context.Context, image string) ([]*unstructured.Unstructured, error) {
	dir, err := gomod.Dir(ctx, Module, Version)
	if err != nil {
		return nil, err
	}
	crd, err := manifest.Decode(os.DirFS(dir), "scheme.yml")
	if err != nil {
		return nil, err
	}
	rest, err := manifest.Decode(fstest.MapFS{"ds.yaml": {Data: []byte(strings.ReplaceAll(daemonSetYAML, "image: IMAGE", "image: "+image))}}, "ds.yaml")
	if err != nil {
		return nil, err
	}
	return append(crd, rest...), nil
}

// Install implements addon.Addon.
func (Addon) Install(ctx context.Context, l *lab.Lab, src images.Source) error {
	if src == images.SourceForge {
		return ErrNoForgeBuild
	}
	objs, err := Render(ctx, images.MultiNetworkPolicyUpstreamImage)
	if err != nil {
		return err
	}
	ap, err := manifest.NewApplier(l.Config)
	if err != nil {
		return err
	}
	if err := ap.Apply(ctx, objs[:1]); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(l.Config)
	if err != nil {
		return err
	}
	if err := manifest.WaitEstablished(ctx, dyn, objs[0].GetName(), ReadyTimeout); err != nil {
		return err
	}
	ap.ResetMapping()
	if err := ap.Apply(ctx, objs[1:]); err != nil {
		return err
	}
	err = wait.Until(ctx, wait.Within{What: "the MultiNetworkPolicy enforcer ready on every node", Timeout: ReadyTimeout, Poll: readyPoll}, func(g gomega.Gomega) {
		ds, err := l.Client.AppsV1().DaemonSets("kube-system").Get(ctx, DaemonSet, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get DaemonSet kube-system/%s", DaemonSet)
		st := ds.Status
		g.Expect(st.DesiredNumberScheduled > 0 && st.NumberReady == st.DesiredNumberScheduled && st.UpdatedNumberScheduled == st.DesiredNumberScheduled).
			To(gomega.BeTrue(), "last seen: ready=%d/%d updated=%d", st.NumberReady, st.DesiredNumberScheduled, st.UpdatedNumberScheduled)
	})
	if err != nil {
		return fmt.Errorf("wait for the MultiNetworkPolicy enforcer: %w (see `kubectl -n kube-system logs ds/%s`)", err, DaemonSet)
	}
	return nil
}
