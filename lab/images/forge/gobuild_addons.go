package forge

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/nodelab/nodelab/lab/images"
)

// Upstream modules of the addon binaries.
const (
	etcdServerModule = "go.etcd.io/etcd/server/v3"
	corednsModule    = "github.com/coredns/coredns"
	localPathModule  = "github.com/rancher/local-path-provisioner"
	flannelModule    = "github.com/flannel-io/flannel"
	cniPluginsModule = "github.com/containernetworking/plugins"
)

// wrapperModule is the go.mod of a generated module that only requires
// mods (path → version): the way to build a main package of a module whose
// own go.mod cannot be the main module (etcd's relative replaces) or to
// compile a trimmed main (coredns).
func (b *goBuilder) wrapperModule(name string, mods map[string]string) string {
	paths := make([]string, 0, len(mods))
	for p := range mods {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var s strings.Builder
	fmt.Fprintf(&s, "module nodelab-forge/%s\n\ngo %s\n\nrequire (\n", name, goLine(b.goVersion))
	for _, p := range paths {
		fmt.Fprintf(&s, "\t%s %s\n", p, mods[p])
	}
	s.WriteString(")\n")
	return s.String()
}

// goLine turns `go env GOVERSION` (go1.26.8) into a go.mod go line (1.26.8),
// so generated modules never ask for a newer toolchain than the local one.
func goLine(goVersion string) string {
	if f := strings.Fields(goVersion); len(f) > 0 {
		if v := strings.TrimPrefix(f[0], "go"); regexp.MustCompile(`^1\.\d+(\.\d+)?$`).MatchString(v) {
			return v
		}
	}
	return "1.26"
}

// wrapper describes a generated module under CacheDir/src/<dir> that
// builds main packages of the modules it requires.
type wrapper struct {
	step, title, dir string
	mods             map[string]string
	files            map[string]string // besides go.mod
	pkgs             []string
	ldflags          string
	outputs          []output
	// keyMod is the module whose sum goes into the key.
	keyMod, keyVersion string
	// alignK8s makes the module share the Kubernetes build's versions of
	// the modules both use (see alignOn); keyMod's go.mod says which.
	alignK8s bool
}

func (b *goBuilder) wrapperRecipe(w wrapper) goRecipe {
	src := filepath.Join(b.srcDir, w.dir)
	files := map[string]string{}
	for k, v := range w.files {
		files[k] = v
	}
	return goRecipe{
		name:    w.step,
		title:   w.title,
		outputs: w.outputs,
		inputs: func(ctx context.Context) ([]string, error) {
			m, err := b.module(ctx, w.keyMod, w.keyVersion)
			if err != nil {
				return nil, err
			}
			mods := maps.Clone(w.mods)
			if w.alignK8s {
				aligned, err := b.k8sAlignment(ctx, m.GoMod)
				if err != nil {
					return nil, fmt.Errorf("align on Kubernetes: %w", err)
				}
				for p, v := range aligned {
					if old, ok := mods[p]; !ok || semver.Compare(v, old) > 0 {
						mods[p] = v
					}
				}
			}
			files["go.mod"] = b.wrapperModule(w.dir, mods)
			parts := []string{m.Sum, w.ldflags, strings.Join(w.pkgs, " ")}
			names := slices.Sorted(maps.Keys(files))
			for _, n := range names {
				parts = append(parts, n, files[n])
			}
			return parts, nil
		},
		prepare: func(ctx context.Context, log io.Writer) error {
			if err := writeModule(src, files); err != nil {
				return fmt.Errorf("write module %s: %w", src, err)
			}
			return b.prefetch(ctx, log, src, goTags, w.pkgs...)
		},
		build: func(ctx context.Context, log io.Writer, tmp string) error {
			return b.goBuild(ctx, log, src, w.ldflags, tmp, w.pkgs...)
		},
	}
}

// etcdRecipe builds etcd from a wrapper module: server/v3's go.mod has
// relative replaces (../api), so neither `go install` nor a copy builds.
func (b *goBuilder) etcdRecipe() goRecipe {
	v := images.EtcdVersion
	return b.wrapperRecipe(wrapper{
		step: "go-etcd", title: "Building etcd " + v, dir: "etcd",
		mods: map[string]string{
			etcdServerModule:                v,
			"go.etcd.io/etcd/api/v3":        v,
			"go.etcd.io/etcd/client/pkg/v3": v,
			"go.etcd.io/etcd/client/v3":     v,
			"go.etcd.io/etcd/pkg/v3":        v,
		},
		pkgs:    []string{etcdServerModule},
		ldflags: "-s -w",
		// go build names go.etcd.io/etcd/server/v3 after "server".
		outputs: []output{{from: "server", name: BinEtcd}},
		keyMod:  etcdServerModule, keyVersion: v,
		alignK8s: true,
	})
}

// corednsPlugins are the CoreDNS plugins the forge compiles in, by
// Corefile directive: kubeadm's Corefile (checked against the Kubernetes
// module at build time) plus log, hosts and rewrite, which labs add.
var corednsPlugins = map[string]string{
	"errors":      "errors",
	"health":      "health",
	"ready":       "ready",
	"kubernetes":  "kubernetes",
	"prometheus":  "metrics",
	"forward":     "forward",
	"cache":       "cache",
	"loop":        "loop",
	"reload":      "reload",
	"loadbalance": "loadbalance",
	"log":         "log",
	"hosts":       "hosts",
	"rewrite":     "rewrite",
}

//go:embed recipes/coredns/main.go.tmpl
var corednsMainTemplate string

// corednsMain renders the coredns main package importing plugins (Corefile
// directive → folder under plugin/).
func corednsMain(version string, plugins map[string]string) (string, error) {
	imports := make([]string, 0, len(plugins))
	for _, dir := range plugins {
		imports = append(imports, path.Join(corednsModule, "plugin", dir))
	}
	sort.Strings(imports)
	t, err := template.New("coredns").Option("missingkey=error").Parse(corednsMainTemplate)
	if err != nil {
		return "", fmt.Errorf("parse coredns main template: %w", err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, struct {
		Version string
		Imports []string
	}{version, imports}); err != nil {
		return "", fmt.Errorf("render coredns main: %w", err)
	}
	return out.String(), nil
}

// corefileDirectives lists the plugin directives of the server blocks in a
// Corefile (template), ignoring Go template actions and plugin options.
func corefileDirectives(corefile string) []string {
	tmplAction := regexp.MustCompile(`\{\{.*?\}\}`)
	depth := 0
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(corefile, "\n") {
		line = strings.TrimSpace(tmplAction.ReplaceAllString(line, ""))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if depth == 1 {
			// A line of only "{" opens the previous directive's block
			// (kubeadm writes `cache 30` and `{{ if }} {` on two lines).
			if f := strings.Fields(line); f[0] != "}" && f[0] != "{" && !seen[f[0]] {
				seen[f[0]] = true
				out = append(out, f[0])
			}
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
	}
	return out
}

// kubeadmCorefile pulls the Corefile template out of kubeadm's dns addon.
func kubeadmCorefile(k8sDir string) (string, error) {
	file := filepath.Join(k8sDir, "cmd/kubeadm/app/phases/addons/dns/manifests.go")
	src, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read kubeadm's CoreDNS manifests: %w", err)
	}
	_, rest, ok := strings.Cut(string(src), "Corefile: |")
	if !ok {
		return "", fmt.Errorf("no Corefile in %s: update the forge's coredns recipe", file)
	}
	corefile, _, _ := strings.Cut(rest, "`")
	return corefile, nil
}

func (b *goBuilder) corednsRecipe() goRecipe {
	v := images.CoreDNSVersion
	main, err := corednsMain(v, corednsPlugins)
	r := b.wrapperRecipe(wrapper{
		step: "go-coredns", title: "Building CoreDNS " + v, dir: "coredns",
		mods:    map[string]string{corednsModule: v},
		files:   map[string]string{"main.go": main},
		pkgs:    []string{"."},
		ldflags: "-s -w -X " + corednsModule + "/coremain.GitCommit=" + v,
		outputs: []output{{from: "coredns", name: BinCoreDNS}},
		keyMod:  corednsModule, keyVersion: v,
		alignK8s: true,
	})
	inputs := r.inputs
	r.inputs = func(ctx context.Context) ([]string, error) {
		if err != nil {
			return nil, err
		}
		// kubeadm's Corefile must only use plugins compiled in.
		k8s, err := b.module(ctx, k8sModule, images.KubernetesVersion)
		if err != nil {
			return nil, err
		}
		corefile, err := kubeadmCorefile(k8s.Dir)
		if err != nil {
			return nil, err
		}
		for _, d := range corefileDirectives(corefile) {
			if _, ok := corednsPlugins[d]; !ok {
				return nil, fmt.Errorf("kubeadm %s's Corefile uses the CoreDNS plugin %q, which the forge does not compile in: add it to corednsPlugins", images.KubernetesVersion, d)
			}
		}
		return inputs(ctx)
	}
	return r
}

func (b *goBuilder) localPathRecipe() goRecipe {
	v := images.LocalPathProvisionerVersion
	return b.wrapperRecipe(wrapper{
		step: "go-local-path", title: "Building local-path-provisioner " + v, dir: "local-path",
		mods:    map[string]string{localPathModule: v},
		pkgs:    []string{localPathModule},
		ldflags: "-s -w -X main.VERSION=" + v,
		outputs: same(BinLocalPathProvisioner),
		keyMod:  localPathModule, keyVersion: v,
		alignK8s: true,
	})
}

func (b *goBuilder) flannelCNIRecipe() goRecipe {
	v := images.FlannelCNIPluginVersion
	return b.wrapperRecipe(wrapper{
		step: "go-flannel-cni", title: "Building the flannel CNI plugin (plugins " + v + ")", dir: "flannel-cni",
		mods:    map[string]string{cniPluginsModule: v},
		pkgs:    []string{cniPluginsModule + "/plugins/meta/flannel"},
		ldflags: "-s -w -X " + cniPluginsModule + "/pkg/utils/buildversion.BuildVersion=" + v,
		outputs: []output{{from: "flannel", name: BinFlannelCNIPlugin}},
		keyMod:  cniPluginsModule, keyVersion: v,
	})
}

// flannelDroppedBackends are removed from flannel's main.go: tencentvpc's
// SDK version is not in the module proxy, and udp needs cgo.
var flannelDroppedBackends = []string{
	flannelModule + "/pkg/backend/tencentvpc",
	flannelModule + "/pkg/backend/udp",
}

// dropImports removes the blank imports of paths from a Go file, failing
// when one is missing so an upstream change cannot go unnoticed.
func dropImports(src []byte, paths ...string) ([]byte, error) {
	lines := strings.SplitAfter(string(src), "\n")
	var out strings.Builder
	found := map[string]bool{}
	for _, l := range lines {
		dropped := false
		for _, p := range paths {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "_" && f[1] == `"`+p+`"` {
				found[p], dropped = true, true
			}
		}
		if !dropped {
			out.WriteString(l)
		}
	}
	for _, p := range paths {
		if !found[p] {
			return nil, fmt.Errorf("no blank import of %s: the source changed, update the forge recipe", p)
		}
	}
	return []byte(out.String()), nil
}

// flannelRecipe builds flanneld and install-conf from a patched copy of
// the flannel module, aligned on the Kubernetes build list.
func (b *goBuilder) flannelRecipe() goRecipe {
	v := images.FlannelVersion
	src := filepath.Join(b.srcDir, "flannel")
	ldflags := "-s -w -X " + flannelModule + "/pkg/version.Version=" + v
	pkgs := []string{".", "./cmd/install_conf"}
	var mod *moduleInfo
	var gomod []byte
	return goRecipe{
		name:  "go-flannel",
		title: "Building flannel " + v,
		// "." builds as the module's last element, flannel.
		outputs: []output{{from: "flannel", name: BinFlanneld}, {from: "install_conf", name: BinFlannelInstallConf}},
		inputs: func(ctx context.Context) ([]string, error) {
			m, err := b.module(ctx, flannelModule, v)
			if err != nil {
				return nil, err
			}
			mod = m
			orig, err := os.ReadFile(filepath.Join(m.Dir, "go.mod"))
			if err != nil {
				return nil, fmt.Errorf("read flannel go.mod: %w", err)
			}
			aligned, err := b.k8sAlignment(ctx, m.GoMod)
			if err != nil {
				return nil, fmt.Errorf("align on Kubernetes: %w", err)
			}
			if gomod, err = withRequires(orig, aligned); err != nil {
				return nil, fmt.Errorf("flannel go.mod: %w", err)
			}
			return append([]string{m.Sum, ldflags, strings.Join(pkgs, " "), string(gomod)}, flannelDroppedBackends...), nil
		},
		prepare: func(ctx context.Context, log io.Writer) error {
			if err := copyModule(mod.Dir, src, mod.Sum, "vendor"); err != nil {
				return err
			}
			main, err := os.ReadFile(filepath.Join(mod.Dir, "main.go"))
			if err != nil {
				return fmt.Errorf("read flannel main.go: %w", err)
			}
			if main, err = dropImports(main, flannelDroppedBackends...); err != nil {
				return fmt.Errorf("patch flannel main.go: %w", err)
			}
			if err := writeIfChanged(filepath.Join(src, "main.go"), main); err != nil {
				return err
			}
			if err := writeIfChanged(filepath.Join(src, "go.mod"), gomod); err != nil {
				return err
			}
			return b.prefetch(ctx, log, src, goTags, pkgs...)
		},
		build: func(ctx context.Context, log io.Writer, tmp string) error {
			return b.goBuild(ctx, log, src, ldflags, tmp, pkgs...)
		},
	}
}

// withRequires sets requirements (path → version) in a go.mod.
func withRequires(gomod []byte, reqs map[string]string) ([]byte, error) {
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range slices.Sorted(maps.Keys(reqs)) {
		if err := f.AddRequire(p, reqs[p]); err != nil {
			return nil, err
		}
	}
	f.Cleanup()
	return f.Format()
}

// pauseCFlags are build/pause/Makefile's CFLAGS (-s strips, as the
// Makefile's strip step does); VERSION is added by pauseRecipe.
var pauseCFlags = []string{"-Os", "-Wall", "-Werror", "-static", "-s"}

// pauseRecipe compiles the pause container's pause.c from the Kubernetes
// module with the host's gcc, statically, as build/pause/Makefile does.
func (b *goBuilder) pauseRecipe() goRecipe {
	// The Makefile's REV is a git describe of the tree; the release is the
	// closest stable stand-in.
	define := "-DVERSION=v" + images.PauseVersion + "-" + images.KubernetesVersion
	var source string
	return goRecipe{
		name:    "cc-pause",
		title:   "Building pause " + images.PauseVersion,
		outputs: same(BinPause),
		inputs: func(ctx context.Context) ([]string, error) {
			if _, err := exec.LookPath("gcc"); err != nil {
				return nil, fmt.Errorf("gcc not found: install it with `apt-get install gcc libc6-dev` (pause is a static C binary)")
			}
			ver, err := exec.CommandContext(ctx, "gcc", "-dumpfullversion").Output()
			if err != nil {
				return nil, fmt.Errorf("gcc -dumpfullversion: %w: check the gcc installation", err)
			}
			k8s, err := b.module(ctx, k8sModule, images.KubernetesVersion)
			if err != nil {
				return nil, err
			}
			source = filepath.Join(k8s.Dir, "build/pause/linux/pause.c")
			text, err := os.ReadFile(source)
			if err != nil {
				return nil, fmt.Errorf("read pause.c: %w", err)
			}
			return []string{strings.TrimSpace(string(ver)), define, strings.Join(pauseCFlags, " "), string(text)}, nil
		},
		prepare: func(context.Context, io.Writer) error { return nil },
		build: func(ctx context.Context, log io.Writer, tmp string) error {
			args := append(append([]string{}, pauseCFlags...), define, "-o", filepath.Join(tmp, BinPause), source)
			if err := b.f.exec(ctx, log, command{dir: tmp}, "gcc", args...); err != nil {
				return fmt.Errorf("%w\n(a static link needs libc6-dev: apt-get install libc6-dev)", err)
			}
			return nil
		},
	}
}
