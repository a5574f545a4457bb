package forge

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/wait"
)

// defaultCNIManifest is flannel v0.28.10's Documentation/kube-flannel.yml
// as kind's default CNI: kind's template marker on top, the pod subnet as
// a template field, and cniVersion 0.4.0 for the v0.9.1 flannel plugin.
//
//go:embed files/default-cni.yaml
var defaultCNIManifest string

// defaultStorageManifest is kind v0.33's default-storage.yaml
// (pkg/build/nodeimage/const_storage.go), unchanged.
//
//go:embed files/default-storage.yaml
var defaultStorageManifest string

// nodeRecipe names how the node step assembles the image, for its key.
const nodeRecipe = "node-2: kubeadm,kubelet,kubectl>/usr/bin crictl>/usr/local/bin import --no-unpack pinned"

// nodeBinaries go to /usr/bin (kind's kubelet unit expects it there),
// crictl to /usr/local/bin.
var nodeBinaries = []binFile{
	{BinKubeadm, "/usr/bin/kubeadm"},
	{BinKubelet, "/usr/bin/kubelet"},
	{BinKubectl, "/usr/bin/kubectl"},
	{BinCrictl, "/usr/local/bin/crictl"},
}

// pinnedLabel keeps preloaded images from kubelet's image GC (gotcha 7:
// containerd 1.6's ctr import has no --label).
const pinnedLabel = "io.cri-containerd.pinned=pinned"

// nodeStep assembles the node image as kind's buildcontext.go does, with
// nothing pulled: a throwaway privileged container from the base image
// gets the binaries, kind's version and manifests, and every component
// archive imported into its containerd; docker commit makes the image.
func (f *Forge) nodeStep(bins Binaries) (stepSpec, error) {
	key, err := nodeKey()
	if err != nil {
		return stepSpec{}, err
	}
	return stepSpec{
		name:    "node-image",
		title:   "Building node image " + images.ForgeNodeImage,
		key:     key,
		present: func(ctx context.Context) bool { return f.imageHasKey(ctx, images.ForgeNodeImage, key) },
		run: func(ctx context.Context, log io.Writer) error {
			return f.buildNode(ctx, log, bins, key)
		},
	}, nil
}

// buildContainerName is per cache, so a run can remove what an interrupted
// run of the same cache left behind without touching anything else.
func (f *Forge) buildContainerName() string {
	return "nodelab-forge-node-" + inputsKey("container", f.opts.CacheDir)[:8]
}

func (f *Forge) buildNode(ctx context.Context, log io.Writer, bins Binaries, key string) (err error) {
	for _, b := range nodeBinaries {
		if bins[b.bin] == "" {
			return fmt.Errorf("binary %s was not built", b.bin)
		}
	}
	for _, img := range images.NodeComponents() {
		if _, err := os.Stat(f.archivePath(img)); err != nil {
			return fmt.Errorf("component image %s: %w", img.Forge, err)
		}
	}
	name := f.buildContainerName()
	remove := func() error {
		cctx, cancel := cleanupContext()
		defer cancel()
		if _, err := dockercli.Run(cctx, "rm", "-f", "-v", name); err != nil && !dockercli.IsNoSuchContainer(err) {
			return fmt.Errorf("remove build container %s: %w", name, err)
		}
		return nil
	}
	if err := remove(); err != nil {
		return err
	}
	// No --label: docker commit would copy it into the node image.
	if err := f.exec(ctx, log, command{}, "docker", "run", "-d", "--name", name, "--privileged",
		"--entrypoint=sleep", images.ForgeBaseImage, "infinity"); err != nil {
		_ = remove()
		return fmt.Errorf("start the build container: %w", err)
	}
	defer func() { err = errors.Join(err, remove()) }()

	run := func(args ...string) error {
		return f.exec(ctx, log, command{}, "docker", append([]string{"exec", name}, args...)...)
	}
	for _, b := range nodeBinaries {
		if err := f.exec(ctx, log, command{}, "docker", "cp", bins[b.bin], name+":"+b.path); err != nil {
			return err
		}
		if err := run("chmod", "0755", b.path); err != nil {
			return err
		}
		if err := run("chown", "root:root", b.path); err != nil {
			return err
		}
	}
	files := map[string]string{
		"/kind/version":                        images.KubernetesVersion + "\n",
		"/kind/manifests/default-cni.yaml":     defaultCNIManifest,
		"/kind/manifests/default-storage.yaml": defaultStorageManifest,
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if err := run("mkdir", "-p", filepath.Dir(p)); err != nil {
			return err
		}
		if err := f.exec(ctx, log, command{in: strings.NewReader(files[p])}, "docker", "exec", "-i", name, "cp", "/dev/stdin", p); err != nil {
			return err
		}
	}

	if err := f.preloadImages(ctx, log, name); err != nil {
		return err
	}

	old, _ := imageID(ctx, images.ForgeNodeImage)
	if err := f.exec(ctx, log, command{}, "docker", "commit",
		"--change", `ENTRYPOINT [ "`+strings.Join(nodeEntrypoint, `", "`)+`" ]`,
		"--change", "LABEL "+InputsLabel+"="+key,
		name, images.ForgeNodeImage); err != nil {
		return fmt.Errorf("commit the node image: %w", err)
	}
	f.removeReplaced(ctx, log, images.ForgeNodeImage, old)
	if size, err := imageSize(ctx, images.ForgeNodeImage); err == nil {
		fmt.Fprintf(log, "node image %s: %s\n", images.ForgeNodeImage, humanSize(size))
	}
	return nil
}

// preloadImages starts containerd in the build container, imports every
// component archive (layers stay compressed: --no-unpack), pins them,
// checks kubeadm finds every image it needs, and stops containerd.
func (f *Forge) preloadImages(ctx context.Context, log io.Writer, name string) (err error) {
	const containerdLog = "/tmp/forge-containerd.log"
	ctr := func(args ...string) []string {
		return append([]string{"exec", name, "ctr", "--namespace=k8s.io"}, args...)
	}
	if err := f.exec(ctx, log, command{}, "docker", "exec", name, "bash", "-c",
		"nohup containerd >"+containerdLog+" 2>&1 &"); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	defer func() {
		if err != nil {
			out, _ := exec.Command("docker", "exec", name, "tail", "-n", "30", containerdLog).CombinedOutput()
			fmt.Fprintf(log, "containerd log:\n%s\n", out)
		}
	}()
	if err := f.poll(ctx, containerdTimeout, "containerd to answer", func() bool {
		_, err := dockercli.Run(ctx, "exec", name, "ctr", "version")
		return err == nil
	}); err != nil {
		return err
	}

	for _, img := range images.NodeComponents() {
		fh, err := os.Open(f.archivePath(img))
		if err != nil {
			return err
		}
		err = f.exec(ctx, log, command{in: fh}, "docker", append([]string{"exec", "-i", name, "ctr", "--namespace=k8s.io"},
			"images", "import", "--all-platforms", "--no-unpack", "--digests", "-")...)
		fh.Close()
		if err != nil {
			return fmt.Errorf("import %s: %w", img.Forge, err)
		}
		if err := f.exec(ctx, log, command{}, "docker", ctr("images", "label", img.Forge, pinnedLabel)...); err != nil {
			return fmt.Errorf("pin %s: %w", img.Forge, err)
		}
	}

	refs, err := dockercli.Run(ctx, ctr("images", "ls", "-q")...)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	var imports []string
	for _, r := range strings.Fields(refs) {
		have[r] = true
		// --digests leaves import-<date>@sha256 names next to the tags.
		if strings.HasPrefix(r, "import-") {
			imports = append(imports, r)
		}
	}
	if len(imports) > 0 {
		if err := f.exec(ctx, log, command{}, "docker", ctr(append([]string{"images", "rm"}, imports...)...)...); err != nil {
			return err
		}
	}
	required, err := dockercli.Run(ctx, "exec", name, "kubeadm", "config", "images", "list",
		"--kubernetes-version", images.KubernetesVersion)
	if err != nil {
		return err
	}
	var missing []string
	for _, r := range strings.Fields(required) {
		if !have[r] {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("kubeadm %s needs images the forge did not build: %s (update lab/images/versions.go)",
			images.KubernetesVersion, strings.Join(missing, ", "))
	}

	if err := f.exec(ctx, log, command{}, "docker", "exec", name, "pkill", "-x", "containerd"); err != nil {
		return fmt.Errorf("stop containerd: %w", err)
	}
	// containerd's parent is gone and sleep (PID 1) reaps nobody, so it
	// stays a zombie: wait for no live containerd, not for no process.
	const alive = `for p in $(pgrep -x containerd); do grep -q '^State:[[:space:]]*Z' /proc/$p/status 2>/dev/null || exit 0; done; exit 1`
	if err := f.poll(ctx, containerdTimeout, "containerd to stop", func() bool {
		_, err := dockercli.Run(ctx, "exec", name, "bash", "-c", alive)
		return err != nil
	}); err != nil {
		return err
	}
	return f.exec(ctx, log, command{}, "docker", "exec", name, "rm", "-f", containerdLog)
}

// poll checks cond every containerdPoll until it holds, for at most timeout.
func (f *Forge) poll(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	return wait.Until(ctx, wait.Within{What: what, Timeout: timeout, Poll: containerdPoll}, func(g gomega.Gomega) {
		g.Expect(cond()).To(gomega.BeTrue(), "not yet: %s", what)
	})
}
