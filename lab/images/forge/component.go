package forge

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// binFile puts a built binary (a Bin* name) at a path in an image.
type binFile struct{ bin, path string }

// componentSpec says how one component image is stacked: shared layers
// from netbaseStep, then one layer with the component's binaries.
type componentSpec struct {
	stack      []string
	files      []binFile
	entrypoint []string
	cmd        []string
	user       string
}

var (
	onSkeleton = []string{layerSkeleton}
	onBusybox  = []string{layerSkeleton, layerBusybox}
	onNetbase  = []string{layerSkeleton, layerNetbase}
)

// componentSpecs are keyed by images.Image.Name. kubeadm's static pods and
// DaemonSets set command: themselves, so the entrypoints are only for
// running an image by hand; paths match the upstream images.
var componentSpecs = map[string]componentSpec{
	"kube-apiserver":          static(onSkeleton, BinKubeAPIServer, "/usr/local/bin/kube-apiserver"),
	"kube-controller-manager": static(onSkeleton, BinKubeControllerManager, "/usr/local/bin/kube-controller-manager"),
	"kube-scheduler":          static(onSkeleton, BinKubeScheduler, "/usr/local/bin/kube-scheduler"),
	"kube-proxy":              static(onNetbase, BinKubeProxy, "/usr/local/bin/kube-proxy"),
	"etcd":                    static(onSkeleton, BinEtcd, "/usr/local/bin/etcd"),
	"coredns":                 static(onSkeleton, BinCoreDNS, "/coredns"),
	"pause":                   {files: []binFile{{BinPause, "/pause"}}, entrypoint: []string{"/pause"}, user: "65535:65535"},
	"flannel": {stack: onNetbase, entrypoint: []string{"/opt/bin/flanneld"},
		files: []binFile{{BinFlanneld, "/opt/bin/flanneld"}, {BinFlannelInstallConf, "/opt/bin/install-conf"}}},
	"flannel-cni-plugin":     {stack: onBusybox, files: []binFile{{BinFlannelCNIPlugin, "/flannel"}}, cmd: []string{"/bin/sh"}},
	"local-path-provisioner": static(onSkeleton, BinLocalPathProvisioner, "/usr/local/bin/local-path-provisioner"),
	"local-path-helper":      {stack: onBusybox, cmd: []string{"/bin/sh"}},
	"agnhost":                static(onBusybox, BinAgnhost, "/agnhost"),
}

func static(stack []string, bin, path string) componentSpec {
	return componentSpec{stack: stack, files: []binFile{{bin, path}}, entrypoint: []string{path}}
}

// componentKey is what a component image is labelled with.
func componentKey(img images.Image) (string, error) {
	spec, ok := componentSpecs[img.Name]
	if !ok {
		return "", fmt.Errorf("no forge recipe for component image %s (%s)", img.Name, img.Forge)
	}
	return inputsKey("component", img.Name, img.Forge, fmt.Sprintf("%+v", spec), binariesKey(), netbaseKey()), nil
}

func (f *Forge) archivePath(img images.Image) string {
	return filepath.Join(f.opts.CacheDir, "images", img.Name+".tar")
}

// componentStep builds one component image into a docker-archive in the
// cache (the node step imports it from there) and loads it into Docker.
func (f *Forge) componentStep(img images.Image, bins Binaries) (stepSpec, error) {
	key, err := componentKey(img)
	if err != nil {
		return stepSpec{}, err
	}
	spec := componentSpecs[img.Name]
	archive := f.archivePath(img)
	return stepSpec{
		name:  "image-" + img.Name,
		title: "Building image " + img.Forge,
		key:   key,
		present: func(ctx context.Context) bool {
			_, err := os.Stat(archive)
			return err == nil && f.imageHasKey(ctx, img.Forge, key)
		},
		run: func(ctx context.Context, log io.Writer) error {
			var layers []string
			for _, s := range spec.stack {
				layers = append(layers, f.layerPath(s))
			}
			if len(spec.files) > 0 {
				binLayer := f.layerPath("bin-" + img.Name)
				defer os.Remove(binLayer)
				if err := writeBinaryLayer(binLayer, spec.files, bins); err != nil {
					return err
				}
				layers = append(layers, binLayer)
			}
			cfg := v1.Config{Entrypoint: spec.entrypoint, Cmd: spec.cmd, User: spec.user, Env: []string{defaultPath}}
			image, err := newImage(cfg, key, layers...)
			if err != nil {
				return err
			}
			if err := writeArchive(archive, img.Forge, image); err != nil {
				return err
			}
			return f.dockerLoadFile(ctx, log, img.Forge, archive)
		},
	}, nil
}

// writeBinaryLayer writes the component's binaries, gzip-compressed: the
// node image keeps the compressed layers in containerd's content store.
func writeBinaryLayer(out string, files []binFile, bins Binaries) error {
	l, err := newLayer(out, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	for _, bf := range files {
		src := bins[bf.bin]
		if src == "" {
			l.abort()
			return fmt.Errorf("binary %s was not built", bf.bin)
		}
		if err := l.binary(strings.TrimPrefix(bf.path, "/"), src); err != nil {
			l.abort()
			return err
		}
	}
	return l.close()
}
