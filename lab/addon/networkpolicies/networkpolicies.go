// Package networkpolicies is the network-policies addon: the NetworkPolicy
// enforcer sigs.k8s.io/kube-network-policies as a DaemonSet, from the
// install.yaml its Go module ships, for labs whose pod network enforces
// none (flannel, the forge's). Forge labs run the forge's build, patched
// to queue packets with the xt NFQUEUE target (kernels without nft_queue
// refuse upstream's ruleset as a whole: see forge.netpolPatches); online
// labs run the upstream image. Changed from install.yaml: the image, and
// NRI off (--disable-nri, its socket mount removed: the forge node's
// containerd 1.6 has no NRI; pod IPs then come from the API server).
package networkpolicies

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/gomod"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/wait"
)

const (
	// Name is the addon's profile name.
	Name = "network-policies"
	// DaemonSet runs the enforcer in kube-system (install.yaml's name).
	DaemonSet = "kube-network-policies"
	// nriVolume is install.yaml's NRI socket volume, removed.
	nriVolume = "nri-plugin"
)

// Addon installs the enforcer.
type Addon struct{}

// Name implements addon.Addon.
func (Addon) Name() string { return Name }

// Images implements addon.Addon.
func (Addon) Images() []images.Image { return []images.Image{images.NetworkPolicies()} }

// Render returns install.yaml's objects with image and NRI off.
func Render(ctx context.Context, image string) ([]*unstructured.Unstructured, error) {
	dir, err := gomod.Dir(ctx, images.NetworkPoliciesModule, images.NetworkPoliciesVersion)
	if err != nil {
		return nil, err
	}
	objs, err := manifest.Decode(os.DirFS(dir), "install.yaml")
	if err != nil {
		return nil, err
	}
	found := false
	for _, u := range objs {
		if u.GetKind() != "DaemonSet" {
			continue
		}
		found = true
		if err := adapt(u, image); err != nil {
			return nil, fmt.Errorf("%s install.yaml: %w", images.NetworkPoliciesModule, err)
		}
	}
	if !found {
		return nil, fmt.Errorf("%s %s install.yaml has no DaemonSet (did the module change?)", images.NetworkPoliciesModule, images.NetworkPoliciesVersion)
	}
	return objs, nil
}

// adapt sets the image, turns NRI off and drops its socket mount.
func adapt(u *unstructured.Unstructured, image string) error {
	spec := []string{"spec", "template", "spec"}
	containers, _, err := unstructured.NestedSlice(u.Object, append(spec, "containers")...)
	if err != nil {
		return fmt.Errorf("read the DaemonSet's containers: %w", err)
	}
	if len(containers) != 1 {
		return fmt.Errorf("want one container in the DaemonSet, found %d", len(containers))
	}
	// As multus: a node agent the kubelet must not evict under memory
	// pressure (it runs without --fail-open: while it is gone, traffic of
	// pods a policy selects is dropped).
	if err := unstructured.SetNestedField(u.Object, "system-node-critical", append(spec, "priorityClassName")...); err != nil {
		return err
	}
	c := containers[0].(map[string]any)
	c["image"] = image
	c["imagePullPolicy"] = "IfNotPresent"
	args, _ := c["args"].([]any)
	c["args"] = append(args, "--disable-nri")
	var mounts []any
	for _, m := range asSlice(c["volumeMounts"]) {
		if mm, ok := m.(map[string]any); ok && mm["name"] == nriVolume {
			continue
		}
		mounts = append(mounts, m)
	}
	c["volumeMounts"] = mounts
	if err := unstructured.SetNestedSlice(u.Object, containers, append(spec, "containers")...); err != nil {
		return err
	}
	volumes, _, _ := unstructured.NestedSlice(u.Object, append(spec, "volumes")...)
	var kept []any
	for _, v := range volumes {
		if vm, ok := v.(map[string]any); ok && vm["name"] == nriVolume {
			continue
		}
		kept = append(kept, v)
	}
	return unstructured.SetNestedSlice(u.Object, kept, append(spec, "volumes")...)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// ErrKindnetd is Install's refusal on a lab whose pod network is kindnetd,
// which runs kube-network-policies' code itself.
var ErrKindnetd = errors.New("kindnetd is the pod network here and embeds kube-network-policies (it enforces where the kernel has nft_queue): a second enforcer would queue every packet twice; the multus-network scenario measures enforcement and installs this addon only where nothing enforces")

// Install implements addon.Addon. It refuses a kindnetd lab (ErrKindnetd).
func (Addon) Install(ctx context.Context, l *lab.Lab, src images.Source) error {
	switch _, err := l.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "kindnet", metav1.GetOptions{}); {
	case err == nil:
		return fmt.Errorf("addon %s on %s: %w", Name, l.Name, ErrKindnetd)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("addon %s: look for kindnetd: %w", Name, err)
	}
	objs, err := Render(ctx, images.NetworkPolicies().Ref(src))
	if err != nil {
		return err
	}
	ap, err := manifest.NewApplier(l.Config)
	if err != nil {
		return err
	}
	if err := ap.Apply(ctx, objs); err != nil {
		return err
	}
	err = wait.Until(ctx, wait.Within{What: "the NetworkPolicy enforcer ready on every node", Timeout: ReadyTimeout, Poll: readyPoll}, func(g gomega.Gomega) {
		ds, err := l.Client.AppsV1().DaemonSets("kube-system").Get(ctx, DaemonSet, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get DaemonSet kube-system/%s", DaemonSet)
		st := ds.Status
		g.Expect(st.ObservedGeneration).To(gomega.BeNumerically(">=", ds.Generation), "the controller has seen the DaemonSet's latest spec")
		g.Expect(st.DesiredNumberScheduled > 0 && st.NumberReady == st.DesiredNumberScheduled && st.UpdatedNumberScheduled == st.DesiredNumberScheduled).
			To(gomega.BeTrue(), "last seen: ready=%d/%d updated=%d", st.NumberReady, st.DesiredNumberScheduled, st.UpdatedNumberScheduled)
	})
	if err != nil {
		return fmt.Errorf("wait for the NetworkPolicy enforcer: %w (see `kubectl -n kube-system logs ds/%s`)", err, DaemonSet)
	}
	return nil
}
