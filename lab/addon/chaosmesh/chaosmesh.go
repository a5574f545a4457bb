// Package chaosmesh is the chaos-mesh addon: Chaos Mesh's own Helm chart,
// taken from the chaos-mesh Go module the forge builds from
// (images.ChaosMeshModuleVersion), rendered client-side with the Helm SDK
// and applied server-side, so the lab runs what upstream ships with only
// our values changed:
//
//   - chaosDaemon.runtime containerd and its socket (kind nodes run containerd);
//   - images from images.ChaosMesh() for the lab's image source;
//   - dashboard and DNS server off (StressChaos needs neither);
//   - controllerManager.enableFilterNamespace: chaos is injected only into
//     namespaces annotated chaos-mesh.org/inject=enabled, so an experiment
//     can never hit the lab's own system pods (AllowNamespace does it);
//   - priority classes system-node-critical (daemon) and
//     system-cluster-critical (controller): the kubelet never evicts
//     critical pods under node pressure, so the chaos a memory scenario
//     injects cannot take down the tool that must stop it (a BestEffort
//     daemon is the first pod a node under MemoryPressure evicts).
//
// Install waits for the CRDs to be Established, the controller Deployment
// to be Available with a ready webhook endpoint, and a ready chaos-daemon on
// every node.
package chaosmesh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing/fstest"

	"github.com/onsi/gomega"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/gomod"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/wait"
)

const (
	// Name is the addon's profile name.
	Name = "chaos-mesh"
	// Namespace holds the controller and the daemons.
	Namespace = "chaos-mesh"
	// InjectAnnotation enables chaos in a namespace (enableFilterNamespace).
	InjectAnnotation = "chaos-mesh.org/inject"
	containerdSocket = "/run/containerd/containerd.sock"
)

// Addon installs Chaos Mesh.
type Addon struct{}

// Name implements addon.Addon.
func (Addon) Name() string { return Name }

// Images implements addon.Addon.
func (Addon) Images() []images.Image { return images.ChaosMesh() }

// ChartDir returns the chart folder inside the chaos-mesh module, downloading
// the module through the Go module proxy when needed.
func ChartDir(ctx context.Context) (string, error) {
	dir, err := gomod.Dir(ctx, "github.com/chaos-mesh/chaos-mesh", images.ChaosMeshModuleVersion)
	if err != nil {
		return "", err
	}
	return dir + "/helm/chaos-mesh", nil
}

// imageValues splits a reference into the chart's registry/repository/tag.
func imageValues(ref string) map[string]any {
	registry, rest, _ := strings.Cut(ref, "/")
	repo, tag, _ := strings.Cut(rest, ":")
	return map[string]any{"registry": registry, "repository": repo, "tag": tag}
}

// Values are the chart values for images of src.
func Values(src images.Source) map[string]any {
	var ctrl, daemon images.Image
	for _, im := range images.ChaosMesh() {
		switch im.Name {
		case images.ChaosMeshControllerImageName:
			ctrl = im
		case images.ChaosMeshDaemonImageName:
			daemon = im
		}
	}
	return map[string]any{
		"controllerManager": map[string]any{
			"replicaCount": 1, "image": imageValues(ctrl.Ref(src)), "imagePullPolicy": "IfNotPresent",
			"enableFilterNamespace": true, "leaderElection": map[string]any{"enabled": false},
			"priorityClassName": "system-cluster-critical",
		},
		"chaosDaemon": map[string]any{
			"runtime": "containerd", "socketPath": containerdSocket,
			"image": imageValues(daemon.Ref(src)), "imagePullPolicy": "IfNotPresent",
			"priorityClassName": "system-node-critical",
		},
		"dashboard": map[string]any{"create": false},
		"dnsServer": map[string]any{"create": false},
	}
}

// Render renders the chart with Values(src), CRDs included.
func Render(ctx context.Context, src images.Source) ([]*unstructured.Unstructured, error) {
	dir, err := ChartDir(ctx)
	if err != nil {
		return nil, err
	}
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.DryRun, inst.ClientOnly, inst.Replace, inst.IncludeCRDs = true, true, true, true
	inst.ReleaseName, inst.Namespace = "chaos-mesh", Namespace
	kv := strings.TrimPrefix(images.KubernetesVersion, "v")
	maj, rest, _ := strings.Cut(kv, ".")
	minor, _, _ := strings.Cut(rest, ".")
	inst.KubeVersion = &chartutil.KubeVersion{Version: images.KubernetesVersion, Major: maj, Minor: minor}
	rel, err := inst.RunWithContext(ctx, chrt, Values(src))
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", dir, err)
	}
	objs, err := manifest.Decode(fstest.MapFS{"chart.yaml": {Data: []byte(rel.Manifest)}}, "chart.yaml")
	if err != nil {
		return nil, err
	}
	return objs, nil
}

// Install implements addon.Addon.
//
// The chart generates new TLS certificates on every render (genCA), so
// applying it again to a running install swaps the webhook's caBundle
// before the controller serves the new certificate: admission calls then
// fail with "x509: certificate signed by unknown authority" until the
// Secret reaches the pod. An install whose controller carries the same
// install key (chart values, module version, forge image IDs) is therefore
// left as it is, once it is ready.
func (Addon) Install(ctx context.Context, l *lab.Lab, src images.Source) error {
	ids := ""
	// Without Docker (an attached cluster reached by node agents) the
	// forge images' tags name their inputs; there is no engine to ask.
	if src == images.SourceForge && l.DockerAccess() == nil {
		var err error
		if ids, err = forgeImageIDs(ctx); err != nil {
			return err
		}
	}
	key, err := installKey(src, ids)
	if err != nil {
		return err
	}
	if d, err := l.Client.AppsV1().Deployments(Namespace).Get(ctx, "chaos-controller-manager", metav1.GetOptions{}); err == nil && d.Annotations[installKeyAnnotation] == key {
		return waitReady(ctx, l)
	}
	objs, err := Render(ctx, src)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetName() == "chaos-controller-manager" {
			a := o.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[installKeyAnnotation] = key
			o.SetAnnotations(a)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace, Labels: map[string]string{manifest.ManagedByLabel: manifest.ManagedByValue}}}
	if _, err := l.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	ap, err := manifest.NewApplier(l.Config)
	if err != nil {
		return err
	}
	var crds, rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	if err := ap.Apply(ctx, crds); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(l.Config)
	if err != nil {
		return err
	}
	for _, c := range crds {
		if err := manifest.WaitEstablished(ctx, dyn, c.GetName(), ReadyTimeout); err != nil {
			return err
		}
	}
	ap.ResetMapping()
	for _, o := range rest {
		namespaced, err := ap.Namespaced(o)
		if err != nil {
			return err
		}
		if namespaced && o.GetNamespace() == "" {
			o.SetNamespace(Namespace)
		}
	}
	if ids != "" {
		// A rebuilt forge image keeps its tag: name the image IDs in the
		// pod templates so the pods roll when an image changed.
		for _, o := range rest {
			if k := o.GetKind(); k == "Deployment" || k == "DaemonSet" {
				_ = unstructured.SetNestedField(o.Object, ids, "spec", "template", "metadata", "annotations", "nodelab.dev/image-ids")
			}
		}
	}
	if err := ap.Apply(ctx, rest); err != nil {
		return err
	}
	return waitReady(ctx, l)
}

// InstalledByOthers implements addon.Remover: Chaos Mesh's namespace exists
// and nodelab did not create it (no managed-by label).
func (Addon) InstalledByOthers(ctx context.Context, l *lab.Lab) (bool, error) {
	ns, err := l.Client.CoreV1().Namespaces().Get(ctx, Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for namespace %s: %w", Namespace, err)
	}
	return ns.Labels[manifest.ManagedByLabel] != manifest.ManagedByValue, nil
}

// Removal implements addon.Remover. Chaos Mesh is either the cluster's
// own (InstalledByOthers: never installed over, never removed) or
// nodelab's, so everything it renders is removed: remove.
func (Addon) Removal(_ context.Context, l *lab.Lab, src images.Source) (func(context.Context) error, error) {
	return func(ctx context.Context) error { return remove(ctx, l, src) }, nil
}

// remove deletes what Install applied, the CRDs first while the
// controller still runs (so it can clear the finalizers of any chaos left,
// recovering what it injected), then the rest and the namespace, and waits
// until every object is gone.
func remove(ctx context.Context, l *lab.Lab, src images.Source) error {
	objs, err := Render(ctx, src)
	if err != nil {
		return err
	}
	ap, err := manifest.NewApplier(l.Config)
	if err != nil {
		return err
	}
	var crds, rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
			continue
		}
		namespaced, err := ap.Namespaced(o)
		if err != nil {
			return err
		}
		if namespaced && o.GetNamespace() == "" {
			o.SetNamespace(Namespace)
		}
		rest = append(rest, o)
	}
	if err := ap.DeleteAndWait(ctx, crds, RemoveTimeout); err != nil {
		return fmt.Errorf("remove the chaos-mesh CRDs: %w (chaos objects whose finalizers were not cleared keep them: `kubectl get crd | grep chaos-mesh`)", err)
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(Namespace)
	rest = append(rest, ns)
	if err := ap.DeleteAndWait(ctx, rest, RemoveTimeout); err != nil {
		return fmt.Errorf("remove the chaos-mesh objects: %w (see `kubectl -n %s get all` for what is left)", err, Namespace)
	}
	return nil
}

// waitReady waits for the controller (Available, webhook endpoint ready)
// and a ready daemon on every node.
func waitReady(ctx context.Context, l *lab.Lab) error {
	what := "Chaos Mesh ready (controller Available, a ready webhook endpoint, a ready daemon on every node)"
	err := wait.Until(ctx, wait.Within{What: what, Timeout: ReadyTimeout, Poll: readyPoll}, func(g gomega.Gomega) {
		d, err := l.Client.AppsV1().Deployments(Namespace).Get(ctx, "chaos-controller-manager", metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get Deployment chaos-controller-manager")
		available := false
		for _, c := range d.Status.Conditions {
			if c.Type == "Available" && c.Status == corev1.ConditionTrue {
				available = true
			}
		}
		ds, err := l.Client.AppsV1().DaemonSets(Namespace).Get(ctx, "chaos-daemon", metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get DaemonSet chaos-daemon")
		eps, err := l.Client.DiscoveryV1().EndpointSlices(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=chaos-mesh-controller-manager"})
		readyEndpoints := 0
		if err == nil {
			for _, s := range eps.Items {
				for _, e := range s.Endpoints {
					if e.Conditions.Ready != nil && *e.Conditions.Ready {
						readyEndpoints++
					}
				}
			}
		}
		last := fmt.Sprintf("controller available=%v ready=%d/%d, webhook endpoints ready=%d, daemons ready=%d/%d updated=%d",
			available, d.Status.ReadyReplicas, d.Status.Replicas, readyEndpoints,
			ds.Status.NumberReady, ds.Status.DesiredNumberScheduled, ds.Status.UpdatedNumberScheduled)
		g.Expect(available && readyEndpoints > 0 && ds.Status.DesiredNumberScheduled > 0 &&
			ds.Status.NumberReady == ds.Status.DesiredNumberScheduled && ds.Status.UpdatedNumberScheduled == ds.Status.DesiredNumberScheduled).
			To(gomega.BeTrue(), "last seen: %s", last)
	})
	if err != nil {
		return fmt.Errorf("wait for Chaos Mesh to be ready: %w (see `kubectl -n %s get pods` and the chaos-daemon logs)", err, Namespace)
	}
	return nil
}

// installKeyAnnotation on the controller Deployment says what was installed.
const installKeyAnnotation = "nodelab.dev/install-key"

// installKey hashes what an install is made of: the chart values for src,
// the module version and the forge image IDs (empty for upstream images).
func installKey(src images.Source, imageIDs string) (string, error) {
	v, err := json.Marshal(Values(src))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(images.ChaosMeshModuleVersion + "\n" + imageIDs + "\n" + string(v)))
	return hex.EncodeToString(sum[:8]), nil
}

// AllowNamespace lets chaos be injected into ns (enableFilterNamespace).
func AllowNamespace(ctx context.Context, l *lab.Lab, ns string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"enabled"}}}`, InjectAnnotation)
	if _, err := l.Client.CoreV1().Namespaces().Patch(ctx, ns, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("allow chaos in namespace %s: %w", ns, err)
	}
	return nil
}

// forgeImageIDs lists the local engine's IDs of the forge images.
func forgeImageIDs(ctx context.Context) (string, error) {
	var ids []string
	for _, im := range images.ChaosMesh() {
		out, err := dockercli.Run(ctx, "image", "inspect", "--format", "{{.Id}}", im.Forge)
		if err != nil {
			return "", fmt.Errorf("image %s is not in the local engine: %w", im.Forge, err)
		}
		ids = append(ids, strings.TrimPrefix(out, "sha256:")[:12])
	}
	return strings.Join(ids, ","), nil
}

// ChaosNamespace installs the addon if needed (opts says how its images are
// got), creates a nodelab namespace named <prefix>-<random> and opens it to
// chaos: what every scenario that injects chaos starts with.
func ChaosNamespace(ctx context.Context, l *lab.Lab, opts addon.Options, prefix string) (string, error) {
	if err := addon.Ensure(ctx, l, opts, Name); err != nil {
		return "", err
	}
	ns, err := l.CreateNamespace(ctx, prefix)
	if err != nil {
		return "", err
	}
	return ns, AllowNamespace(ctx, l, ns)
}
