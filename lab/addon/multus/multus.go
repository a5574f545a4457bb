// Package multus is the multus addon: Multus CNI in thin mode, installed
// from the manifest upstream ships in its Go module
// (deployments/multus-daemonset.yml of images.MultusModule at
// images.MultusVersion) with only the images, pull policy and priority
// class changed, and the NetworkAttachmentDefinition CRD from the NAD
// client module go.mod pins. Pods then get extra interfaces from
// NetworkAttachmentDefinitions named in their k8s.v1.cni.cncf.io/networks
// annotation, while the lab's own CNI (flannel or kindnet) stays the
// primary network: thin_entrypoint writes 00-multus.conf delegating to it.
//
// The NADs the scenarios use need the reference CNI plugins bridge,
// macvlan and host-local in every node's /opt/cni/bin. Forge nodes have
// Debian's; kindest/node has only host-local, loopback, ptp and portmap,
// so on such nodes Install builds the plugins from
// images.CNIPluginsModule (static, with the local Go toolchain) and copies
// them in.
//
// Install waits for the CRD to be Established, the DaemonSet to be ready
// and updated on every node, and 00-multus.conf plus the plugins to be on
// every node: thin_entrypoint exits 0 on errors (its container restarts),
// so a ready DaemonSet alone does not prove the node is configured.
package multus

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/gomod"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
)

const (
	// Name is the addon's profile name.
	Name = "multus"
	// Namespace holds the DaemonSet (upstream's choice).
	Namespace = "kube-system"
	// DaemonSet is upstream's thin-mode DaemonSet.
	DaemonSet = "kube-multus-ds"
	// ConfFile is what thin_entrypoint writes on each node.
	ConfFile = "/etc/cni/net.d/00-multus.conf"
	// CNIBinDir is where containerd looks for CNI plugins on kind nodes.
	CNIBinDir = "/opt/cni/bin"

	// NADModule is the NetworkAttachmentDefinition client go.mod pins; its
	// artifacts/networks-crd.yaml is the CRD installed.
	NADModule  = "github.com/k8snetworkplumbingwg/network-attachment-definition-client"
	NADVersion = "v1.7.7"
)

// Plugins are the reference CNI plugins the scenarios' NADs use, as
// (binary name, package below images.CNIPluginsModule).
var Plugins = [][2]string{
	{"bridge", "plugins/main/bridge"},
	{"macvlan", "plugins/main/macvlan"},
	{"host-local", "plugins/ipam/host-local"},
	{"static", "plugins/ipam/static"},
	{"tuning", "plugins/meta/tuning"},
}

// Addon installs Multus.
type Addon struct{}

// Name implements addon.Addon.
func (Addon) Name() string { return Name }

// Images implements addon.Addon.
func (Addon) Images() []images.Image { return []images.Image{images.Multus()} }

// Render returns the objects to apply for src: the NAD CRD first, then
// upstream's thin-mode manifest with our changes.
func Render(ctx context.Context, src images.Source) ([]*unstructured.Unstructured, error) {
	nadDir, err := gomod.Dir(ctx, NADModule, NADVersion)
	if err != nil {
		return nil, err
	}
	crd, err := manifest.Decode(os.DirFS(nadDir), "artifacts/networks-crd.yaml")
	if err != nil {
		return nil, err
	}
	multusDir, err := gomod.Dir(ctx, images.MultusModule, images.MultusVersion)
	if err != nil {
		return nil, err
	}
	objs, err := manifest.Decode(os.DirFS(multusDir), "deployments/multus-daemonset.yml")
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	out = append(out, crd...)
	for _, o := range objs {
		// The upstream file carries the CRD too; the NAD client's copy of
		// it (same schema) is the one installed.
		if o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		if o.GetKind() == "DaemonSet" {
			if err := customize(o, images.Multus().Ref(src)); err != nil {
				return nil, err
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// customize sets the image of every (init) container, IfNotPresent (a
// forge image cannot be pulled) and system-node-critical: the kubelet
// never evicts it under the memory pressure other scenarios cause, and a
// node whose Multus is gone cannot start pods (00-multus.conf stays).
func customize(ds *unstructured.Unstructured, image string) error {
	for _, field := range []string{"containers", "initContainers"} {
		cs, _, err := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", field)
		if err != nil {
			return fmt.Errorf("multus DaemonSet %s: %w", field, err)
		}
		for i := range cs {
			c, ok := cs[i].(map[string]any)
			if !ok {
				return fmt.Errorf("multus DaemonSet %s[%d] is not an object", field, i)
			}
			c["image"] = image
			c["imagePullPolicy"] = string(corev1.PullIfNotPresent)
		}
		if err := unstructured.SetNestedSlice(ds.Object, cs, "spec", "template", "spec", field); err != nil {
			return err
		}
	}
	return unstructured.SetNestedField(ds.Object, "system-node-critical", "spec", "template", "spec", "priorityClassName")
}

// Install implements addon.Addon.
func (Addon) Install(ctx context.Context, l *lab.Lab, src images.Source) error {
	objs, err := Render(ctx, src)
	if err != nil {
		return err
	}
	if !l.Attached {
		if err := ensurePlugins(ctx, l); err != nil {
			return err
		}
	} else if err := pluginsPresent(ctx, l); err != nil {
		return err
	}
	if src == images.SourceForge && l.DockerAccess() == nil {
		// A rebuilt forge image keeps its tag: name its ID in the pod
		// template so the pods roll when the image changed.
		id, err := imageID(ctx, images.MultusForgeImage)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.GetKind() == "DaemonSet" {
				_ = unstructured.SetNestedField(o.Object, id, "spec", "template", "metadata", "annotations", "nodelab.dev/image-ids")
			}
		}
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
	if err := ap.Apply(ctx, rest); err != nil {
		return err
	}
	return waitReady(ctx, l)
}

func imageID(ctx context.Context, ref string) (string, error) {
	out, err := dockercli.Run(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		return "", fmt.Errorf("image %s is not in the local engine: %w", ref, err)
	}
	id := strings.TrimPrefix(out, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id, nil
}

// waitReady waits for the DaemonSet to be ready and updated everywhere and,
// where nodelab reaches the nodes, for 00-multus.conf on every node.
func waitReady(ctx context.Context, l *lab.Lab) error {
	what := "Multus ready and updated on every node"
	onNodes := l.NodeAccess() == nil
	if onNodes {
		what += ", " + ConfFile + " written on every node"
	}
	err := wait.Until(ctx, wait.Within{What: what, Timeout: ReadyTimeout, Poll: readyPoll}, func(g gomega.Gomega) {
		ds, err := l.Client.AppsV1().DaemonSets(Namespace).Get(ctx, DaemonSet, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get DaemonSet %s/%s", Namespace, DaemonSet)
		st := ds.Status
		last := fmt.Sprintf("daemons ready=%d/%d updated=%d", st.NumberReady, st.DesiredNumberScheduled, st.UpdatedNumberScheduled)
		g.Expect(st.DesiredNumberScheduled > 0 && st.NumberReady == st.DesiredNumberScheduled && st.UpdatedNumberScheduled == st.DesiredNumberScheduled && ds.Status.ObservedGeneration >= ds.Generation).
			To(gomega.BeTrue(), "last seen: %s, observed generation %d/%d", last, ds.Status.ObservedGeneration, ds.Generation)
		if !onNodes {
			return
		}
		missing, err := nodesWithout(ctx, l, ConfFile)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "last seen: %s; look for %s on the nodes", last, ConfFile)
		g.Expect(missing).To(gomega.BeEmpty(), "last seen: %s; %s not yet written on %s", last, ConfFile, strings.Join(missing, ", "))
	})
	if err != nil {
		return fmt.Errorf("wait for Multus to be ready: %w (see `kubectl -n %s logs ds/%s`)", err, Namespace, DaemonSet)
	}
	return nil
}

// NodePaths are what Multus (thin mode) writes on every node: its CNI
// config, the kubeconfig folder thin_entrypoint makes, and the binaries
// install_multus copies.
var NodePaths = []string{ConfFile, "/etc/cni/net.d/multus.d", CNIBinDir + "/multus", CNIBinDir + "/passthru"}

// NodeFiles implements addon.NodeWriter.
func (Addon) NodeFiles() string { return strings.Join(NodePaths, ", ") }

// nadCRD is the NetworkAttachmentDefinition CRD's name.
const nadCRD = "network-attachment-definitions.k8s.cni.cncf.io"

// InstalledByOthers implements addon.Remover: the Multus DaemonSet runs
// and nodelab did not create it (no managed-by label).
func (Addon) InstalledByOthers(ctx context.Context, l *lab.Lab) (bool, error) {
	ds, err := l.Client.AppsV1().DaemonSets(Namespace).Get(ctx, DaemonSet, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for DaemonSet %s/%s: %w", Namespace, DaemonSet, err)
	}
	return ds.Labels[manifest.ManagedByLabel] != manifest.ManagedByValue, nil
}

// Removal implements addon.Remover. It needs node access and refuses a
// cluster whose nodes already hold any of NodePaths (left by an earlier
// Multus: nodelab would not know what to remove); the NAD CRD is removed
// only when it was not there before.
func (Addon) Removal(ctx context.Context, l *lab.Lab, src images.Source) (func(context.Context) error, error) {
	if err := l.NodeAccess(); err != nil {
		return nil, fmt.Errorf("multus writes on the nodes, and nodelab could not remove it again without node access: %w", err)
	}
	_, err := l.Client.AppsV1().DaemonSets(Namespace).Get(ctx, DaemonSet, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("look for DaemonSet %s/%s: %w", Namespace, DaemonSet, err)
	}
	if apierrors.IsNotFound(err) {
		// Not there: the nodes must hold none of its files.
		present, _, err := pathsOnNodes(ctx, l, NodePaths...)
		if err != nil {
			return nil, err
		}
		if len(present) > 0 {
			return nil, fmt.Errorf("no Multus DaemonSet runs, yet nodes hold %s (left by an earlier Multus?): nodelab will not install over files it could not tell from its own: remove them, or run Multus yourself (nodelab then uses it)", strings.Join(present, ", "))
		}
	}
	dyn, err := dynamic.NewForConfig(l.Config)
	if err != nil {
		return nil, err
	}
	_, crdErr := dyn.Resource(manifest.CRDResource).Get(ctx, nadCRD, metav1.GetOptions{})
	if crdErr != nil && !apierrors.IsNotFound(crdErr) {
		return nil, fmt.Errorf("look for CRD %s: %w", nadCRD, crdErr)
	}
	keepCRD := crdErr == nil
	return func(ctx context.Context) error { return remove(ctx, l, src, keepCRD) }, nil
}

// remove deletes the DaemonSet, waits until its pods are gone (so none
// writes its config again), deletes NodePaths on every node, then the
// rest of what Install applied (the CRD unless keepCRD), and waits until
// it is gone.
func remove(ctx context.Context, l *lab.Lab, src images.Source, keepCRD bool) error {
	objs, err := Render(ctx, src)
	if err != nil {
		return err
	}
	ap, err := manifest.NewApplier(l.Config)
	if err != nil {
		return err
	}
	var ds, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch {
		case o.GetKind() == "DaemonSet":
			ds = append(ds, o)
		case o.GetKind() == "CustomResourceDefinition" && keepCRD:
		default:
			rest = append(rest, o)
		}
	}
	if err := ap.Delete(ctx, ds); err != nil {
		return err
	}
	err = wait.Until(ctx, wait.Within{What: "the Multus pods gone", Timeout: RemoveTimeout, Poll: readyPoll}, func(g gomega.Gomega) {
		pods, err := l.Client.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "name=multus"})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(pods.Items).To(gomega.BeEmpty(), "Multus pods")
	})
	if err != nil {
		return err
	}
	nodes, err := l.Nodes()
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if _, err := nodeexec.Run(ctx, n, "rm", append([]string{"-rf"}, NodePaths...)...); err != nil {
			return fmt.Errorf("remove Multus files on %s: %w", n, err)
		}
	}
	left, _, err := pathsOnNodes(ctx, l, NodePaths...)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("multus files still on nodes after rm -rf: %s (remove them by hand: pods on those nodes cannot start while 00-multus.conf stays)", strings.Join(left, ", "))
	}
	return ap.DeleteAndWait(ctx, append(ds, rest...), RemoveTimeout)
}

// pluginsPresent checks, on a cluster nodelab did not create (where it
// never copies CNI plugins), that every node has the reference plugins the
// scenarios' NADs use.
func pluginsPresent(ctx context.Context, l *lab.Lab) error {
	var paths []string
	for _, p := range Plugins {
		paths = append(paths, filepath.Join(CNIBinDir, p[0]))
	}
	missing, err := nodesWithout(ctx, l, paths...)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("nodes lack the reference CNI plugins the NADs use (%s); nodelab copies plugins only onto labs it created: install containernetworking/plugins %s on the nodes", strings.Join(missing, ", "), images.CNIPluginsVersion)
	}
	return nil
}

// pathsOnNodes reads, on every node of the lab, which of paths exist:
// node:path pairs present and missing.
func pathsOnNodes(ctx context.Context, l *lab.Lab, paths ...string) (present, missing []string, err error) {
	kn, err := l.Nodes()
	if err != nil {
		return nil, nil, err
	}
	for _, n := range kn {
		for _, p := range paths {
			if _, err := nodeexec.Run(ctx, n, "test", "-e", p); err == nil {
				present = append(present, n.String()+":"+p)
			} else {
				missing = append(missing, n.String()+":"+p)
			}
		}
	}
	return present, missing, nil
}

// nodesWithout lists node:path for each path missing on a node.
func nodesWithout(ctx context.Context, l *lab.Lab, paths ...string) ([]string, error) {
	_, missing, err := pathsOnNodes(ctx, l, paths...)
	return missing, err
}

// ensurePlugins puts the reference plugins on every node that lacks one,
// building them once per version into the user's cache.
func ensurePlugins(ctx context.Context, l *lab.Lab) error {
	kn, err := l.KindNodes()
	if err != nil {
		return err
	}
	var dir string
	for _, n := range kn {
		for _, p := range Plugins {
			target := filepath.Join(CNIBinDir, p[0])
			if _, err := nodeexec.Run(ctx, n, "test", "-x", target); err == nil {
				continue
			}
			if dir == "" {
				if dir, err = BuildPlugins(ctx); err != nil {
					return err
				}
			}
			data, err := os.ReadFile(filepath.Join(dir, p[0]))
			if err != nil {
				return err
			}
			if err := nodeexec.WriteFile(ctx, n, target, data, 0o755); err != nil {
				return fmt.Errorf("install CNI plugin %s: %w", p[0], err)
			}
		}
	}
	return nil
}

// BuildPlugins builds Plugins statically (CGO_ENABLED=0) with `go install
// pkg@version` into $XDG_CACHE_HOME/nodelab/cni-plugins-<version> and
// returns that folder; an earlier build is reused.
func BuildPlugins(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "nodelab", "cni-plugins-"+images.CNIPluginsVersion)
	complete := true
	for _, p := range Plugins {
		if _, err := os.Stat(filepath.Join(dir, p[0])); err != nil {
			complete = false
		}
	}
	if complete {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	args := []string{"install", "-trimpath", "-ldflags=-s -w"}
	for _, p := range Plugins {
		args = append(args, images.CNIPluginsModule+"/"+p[1]+"@"+images.CNIPluginsVersion)
	}
	ctx, cancel := context.WithTimeout(ctx, pluginBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+dir, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the reference CNI plugins (go %s): %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return dir, nil
}
