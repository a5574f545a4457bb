package forge

import (
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// Chaos Mesh, built offline (../shared/notes/chaos-mesh-offline.md): only
// what StressChaos uses. chaos-dashboard, chaos-dns-server, toda, tproxy and
// byteman are not built: no StressChaos code path runs them.
const (
	chaosMeshModule    = "github.com/chaos-mesh/chaos-mesh"
	chaosMeshAPIModule = "github.com/chaos-mesh/chaos-mesh/api"

	binChaosDaemon     = "chaos-daemon"
	binChaosController = "chaos-controller-manager"
	binChaosPause      = "chaos-pause"
	binNSExec          = "nsexec"
	binMemStress       = "memStress"
	nodelabModule      = "github.com/nodelab/nodelab"
)

// chaosPatches are source fixes the forge applies to the chaos-mesh copy
// (applyPatches).
//
// pidpath.go: PidPath reports a v1 controller missing from
// /proc/<pid>/cgroup with a new error, not the library's
// cgroups.ErrControllerNotActive, so cgroups.Load cannot skip it and every
// StressChaos fails with "controller is not supported" on cgroup v1 hosts
// that mount controllers a process is not in (this VM: hugetlb, net_cls,
// net_prio, perf_event). Returning the sentinel lets Load skip them.
var chaosPatches = []sourcePatch{
	{"pkg/chaosdaemon/cgroups/pidpath.go",
		`return "", errors.New("controller is not supported")`,
		`return "", cgroups.ErrControllerNotActive`},
}

// chaosMeshTags: the pure-Go DNS resolver and user lookup in both Chaos
// Mesh builds, so the cgo daemon and the static controller compile the
// same files and share their packages through the build cache.
const chaosMeshTags = "netgo,osusergo"

// requireStatic fails when the ELF file at path asks for a dynamic loader.
func requireStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (built with cgo?)", filepath.Base(path))
		}
	}
	return nil
}

// chaosDaemonRoots are the Debian packages chaos-daemon's StressChaos path
// runs (stress-ng; nsenter and choom from util-linux; sh and cat) plus the
// network tools the upstream image carries.
var chaosDaemonRoots = []string{"stress-ng", "util-linux", "iptables", "ipset", "iproute2", "procps", "coreutils", "dash", "ca-certificates", "libc6"}

// chaosMeshGoStep builds chaos-daemon and chaos-controller-manager from the
// chaos-mesh module (with the api module copied in, as its go.mod's
// replace expects), pause from its hack/pause.c, and nodelab's nsexec and
// memStress substitutes from the nodelab checkout the forge runs in.
func (f *Forge) chaosMeshGoStep(ctx context.Context) (stepSpec, error) {
	b, err := f.newGoBuilder(ctx)
	if err != nil {
		return stepSpec{}, err
	}
	src := filepath.Join(b.srcDir, "chaos-mesh")
	var nodelabDir string
	r := goRecipe{
		name:  "go-chaos-mesh",
		title: "Building Chaos Mesh " + images.ChaosMeshVersion + " (" + images.ChaosMeshModuleVersion + ") daemon and controller, and nodelab's nsexec and memStress",
		outputs: []output{{binChaosDaemon, binChaosDaemon}, {binChaosController, binChaosController},
			{"pause", binChaosPause}, {binNSExec, binNSExec}, {"memstress", binMemStress}},
		inputs: func(ctx context.Context) ([]string, error) {
			if _, err := exec.LookPath("gcc"); err != nil {
				return nil, errors.New("gcc not found: install it with `apt-get install gcc libc6-dev` (chaos-daemon needs cgo)")
			}
			dir, err := nodelabSourceDir(ctx, b.gobin)
			if err != nil {
				return nil, err
			}
			nodelabDir = dir
			var parts []string
			for _, p := range []string{"cmd/nsexec", "cmd/memstress", "lab/instruments/stress"} {
				sum, err := treeHash(filepath.Join(dir, p))
				if err != nil {
					return nil, err
				}
				parts = append(parts, p+"="+sum)
			}
			m, err := b.module(ctx, chaosMeshModule, images.ChaosMeshModuleVersion)
			if err != nil {
				return nil, err
			}
			a, err := b.module(ctx, chaosMeshAPIModule, images.ChaosMeshAPIVersion)
			if err != nil {
				return nil, err
			}
			return append(parts, m.Sum, a.Sum, fmt.Sprintf("%q", chaosPatches), "shared cache, tags "+chaosMeshTags), nil
		},
		prepare: func(ctx context.Context, log io.Writer) error {
			m, err := b.module(ctx, chaosMeshModule, images.ChaosMeshModuleVersion)
			if err != nil {
				return err
			}
			a, err := b.module(ctx, chaosMeshAPIModule, images.ChaosMeshAPIVersion)
			if err != nil {
				return err
			}
			stamp := m.Sum + a.Sum
			if err := copyModule(m.Dir, src, stamp); err != nil {
				return fmt.Errorf("copy %s: %w", chaosMeshModule, err)
			}
			if err := copyModule(a.Dir, filepath.Join(src, "api"), stamp); err != nil {
				return fmt.Errorf("copy %s into ./api: %w", chaosMeshAPIModule, err)
			}
			if err := applyPatches(src, chaosPatches); err != nil {
				return err
			}
			// cgo on: chaos-daemon's chaos-driver client has only cgo files.
			args := []string{"list", "-deps", "-test=false", "-tags", chaosMeshTags, "-f", "{{if false}}{{end}}", "./cmd/chaos-daemon", "./cmd/chaos-controller-manager"}
			return f.exec(ctx, &skipBlankLines{w: log}, command{dir: src, env: goEnv("CGO_ENABLED=1", "GOMAXPROCS="+prefetchProcs)}, b.gobin, args...)
		},
		build: func(ctx context.Context, log io.Writer, tmp string) error {
			// pkg/time embeds two object files the module zip lacks.
			for _, c := range []string{"fake_clock_gettime", "fake_gettimeofday"} {
				in := filepath.Join(src, "pkg/time/fakeclock", c+".c")
				out := filepath.Join(src, "pkg/time/fakeclock", c+".o")
				if err := f.exec(ctx, log, command{dir: src}, "gcc", "-c", in, "-fPIE", "-O2", "-o", out); err != nil {
					return fmt.Errorf("compile %s: %w", c, err)
				}
			}
			// The daemon needs cgo (pkg/ptrace, the chaos-driver client);
			// the controller is static (its image has no libc), and it
			// must stay cgo-free because kustomize's plugin loader imports
			// Go's plugin package, which links dynamically under cgo. The
			// go command keys compiled packages on their files and flags,
			// not on CGO_ENABLED, so with the same tags (netgo, osusergo:
			// the pure-Go resolver and user lookup, the files a cgo-less
			// build uses) and flags the controller's build finds every
			// package it shares with the daemon in the build cache instead
			// of compiling it a second time. -dwarf=false as in every forge
			// build: the linker drops DWARF (-w) anyway, and the standard
			// library compiled for the other builds is then reused too.
			build := func(env string, cmd string) error {
				args := []string{"build", "-trimpath", "-tags", chaosMeshTags, "-gcflags", goGCFlags, "-ldflags", "-s -w", "-o", tmp + "/", cmd}
				if err := b.goCmd(ctx, log, src, []string{env}, args...); err != nil {
					return fmt.Errorf("build %s: %w", path.Base(cmd), err)
				}
				return nil
			}
			if err := build("CGO_ENABLED=1", "./cmd/chaos-daemon"); err != nil {
				return err
			}
			if err := build("CGO_ENABLED=0", "./cmd/chaos-controller-manager"); err != nil {
				return err
			}
			if err := requireStatic(filepath.Join(tmp, binChaosController)); err != nil {
				return fmt.Errorf("chaos-controller-manager runs on an image without libc: %w", err)
			}
			if err := f.exec(ctx, log, command{dir: src}, "gcc", "-O2", "-static", "-o", filepath.Join(tmp, "pause"), "hack/pause.c"); err != nil {
				return fmt.Errorf("build pause: %w (a static link needs libc6-dev)", err)
			}
			own := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", tmp + "/", "./cmd/nsexec", "./cmd/memstress"}
			if err := f.exec(ctx, log, command{dir: nodelabDir, env: []string{"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local"}}, b.gobin, own...); err != nil {
				return fmt.Errorf("build nsexec and memstress: %w", err)
			}
			return nil
		},
	}
	turn := 0
	return b.stepFor(ctx, r, &turn)
}

// nodelabSourceDir is the nodelab checkout the forge runs from (the main
// module of the working directory).
func nodelabSourceDir(ctx context.Context, gobin string) (string, error) {
	out, err := exec.CommandContext(ctx, gobin, "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the nodelab checkout (nsexec and memStress are built from it): run nodelab from inside it: %w", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if path != nodelabModule {
		return "", fmt.Errorf("the chaos-daemon image needs nodelab's nsexec and memStress, built from the nodelab checkout: run from inside it (current module: %q)", path)
	}
	return dir, nil
}

// treeHash hashes the .go files of a folder (names and contents).
func treeHash(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return "", fmt.Errorf("list Go files in %s: %w", dir, err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("no Go files in %s", dir)
	}
	parts := []string{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		parts = append(parts, filepath.Base(p), string(b))
	}
	return inputsKey(parts...), nil
}

// chaosImageStep assembles one Chaos Mesh image from layers.
func (f *Forge) chaosImageStep(img images.Image, goKey string, bins []binFile, roots []string, cfg v1.Config) stepSpec {
	key := inputsKey("chaos-image", img.Forge, goKey, netbaseKey(), extrasKey(), strings.Join(roots, ","), fmt.Sprintf("%+v %+v", bins, cfg))
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
			layers := []string{f.layerPath(layerSkeleton), f.layerPath(layerBusybox)}
			if len(roots) > 0 {
				pkg := f.layerPath("pkgs-" + img.Name)
				if err := buildPackagesLayer(ctx, log, f.extrasDir(), pkg, roots); err != nil {
					return err
				}
				defer os.Remove(pkg)
				layers = append(layers, pkg)
			}
			binLayer := f.layerPath("bin-" + img.Name)
			l, err := newLayer(binLayer, gzip.DefaultCompression)
			if err != nil {
				return err
			}
			var errs []error
			for _, bf := range bins {
				errs = append(errs, l.binary(strings.TrimPrefix(bf.path, "/"), filepath.Join(f.opts.CacheDir, "bin", bf.bin)))
			}
			errs = append(errs, l.close())
			if err := errors.Join(errs...); err != nil {
				return err
			}
			defer os.Remove(binLayer)
			layers = append(layers, binLayer)
			cfg.Env = append([]string{defaultPath}, cfg.Env...)
			image, err := newImage(cfg, key, layers...)
			if err != nil {
				return err
			}
			if err := writeArchive(archive, img.Forge, image); err != nil {
				return err
			}
			return f.dockerLoadFile(ctx, log, img.Forge, archive)
		},
	}
}

// chaosDaemonRecipe: Debian's stress-ng and util-linux, chaos-daemon,
// pause and nodelab's nsexec and memStress at the paths the daemon
// hard-codes (/usr/local/bin/pause, /usr/local/bin/nsexec; memStress on PATH).
func chaosDaemonRecipe(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	gostep, err := f.chaosMeshGoStep(ctx)
	if err != nil {
		return nil, err
	}
	bins := []binFile{
		{binChaosDaemon, "/usr/local/bin/chaos-daemon"},
		{binChaosPause, "/usr/local/bin/pause"},
		{binNSExec, "/usr/local/bin/nsexec"},
		{binMemStress, "/usr/local/bin/memStress"},
	}
	cfg := v1.Config{Entrypoint: []string{"/usr/local/bin/chaos-daemon"}, WorkingDir: "/"}
	return []stepSpec{f.rootfsStep(), f.netbaseStep(), f.extrasStep(), gostep,
		f.chaosImageStep(img, gostep.key, bins, chaosDaemonRoots, cfg)}, nil
}

// chaosControllerRecipe: the static controller on the skeleton.
func chaosControllerRecipe(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	gostep, err := f.chaosMeshGoStep(ctx)
	if err != nil {
		return nil, err
	}
	bins := []binFile{{binChaosController, "/usr/local/bin/chaos-controller-manager"}}
	cfg := v1.Config{Entrypoint: []string{"/usr/local/bin/chaos-controller-manager"}, WorkingDir: "/"}
	return []stepSpec{f.rootfsStep(), f.netbaseStep(), gostep,
		f.chaosImageStep(img, gostep.key, bins, nil, cfg)}, nil
}
