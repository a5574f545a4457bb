package forge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/nodelab/nodelab/lab/images"
)

// k8sModule is the Kubernetes main module; its staging modules are
// published as k8s.io/<name> at images.StagingVersion.
const k8sModule = "k8s.io/kubernetes"

// k8sCommands are built by one `go build` so their shared packages compile
// once.
var k8sCommands = []string{
	BinKubeadm, BinKubelet, BinKubectl, BinKubeAPIServer,
	BinKubeControllerManager, BinKubeScheduler, BinKubeProxy,
}

// k8sVersionPackages get the -X version variables (hack/lib/version.sh).
var k8sVersionPackages = []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"}

// k8sGitCommit stands in for the release commit, which the module proxy
// does not record.
const k8sGitCommit = "0000000000000000000000000000000000000000"

func (b *goBuilder) k8sRecipe() goRecipe {
	src := filepath.Join(b.srcDir, "k8s")
	var mod *moduleInfo
	var ldflags string
	pkgs := make([]string, len(k8sCommands))
	for i, c := range k8sCommands {
		pkgs[i] = "./cmd/" + c
	}
	// agnhost, the e2e test workload image, compiles with the same packages.
	pkgs = append(pkgs, "./test/images/agnhost")
	return goRecipe{
		name:    "go-k8s",
		title:   "Building Kubernetes " + images.KubernetesVersion + " binaries",
		outputs: same(append(append([]string{}, k8sCommands...), BinAgnhost)...),
		inputs: func(ctx context.Context) ([]string, error) {
			m, err := b.module(ctx, k8sModule, images.KubernetesVersion)
			if err != nil {
				return nil, err
			}
			mod = m
			date, err := moduleTime(m)
			if err != nil {
				return nil, err
			}
			ldflags, err = k8sLDFlags(images.KubernetesVersion, k8sGitCommit, date)
			if err != nil {
				return nil, err
			}
			return []string{images.KubernetesVersion, images.StagingVersion, m.Sum, goTags, ldflags, strings.Join(pkgs, " ")}, nil
		},
		prepare: func(ctx context.Context, log io.Writer) error {
			if err := copyModule(mod.Dir, src, mod.Sum, "vendor", "go.work", "go.work.sum"); err != nil {
				return err
			}
			// Rewrite from the pristine go.mod every time: -mod=mod edits the copy.
			orig, err := os.ReadFile(filepath.Join(mod.Dir, "go.mod"))
			if err != nil {
				return fmt.Errorf("read go.mod: %w", err)
			}
			rewritten, n, err := rewriteStagingReplaces(orig, images.StagingVersion)
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "# go.mod: %d staging replaces now point at %s\n", n, images.StagingVersion)
			if err := writeIfChanged(filepath.Join(src, "go.mod"), rewritten); err != nil {
				return err
			}
			return b.prefetch(ctx, log, src, goTags, pkgs...)
		},
		build: func(ctx context.Context, log io.Writer, tmp string) error {
			if err := b.goBuild(ctx, log, src, ldflags, tmp, pkgs...); err != nil {
				return err
			}
			return checkKubeadmVersion(ctx, filepath.Join(tmp, BinKubeadm), images.KubernetesVersion)
		},
	}
}

// rewriteStagingReplaces points every `k8s.io/x => ./staging/src/k8s.io/x`
// replace of a Kubernetes go.mod at the published module k8s.io/x@version,
// since the module zip does not carry the staging folders. It returns the
// new go.mod and how many replaces it rewrote.
func rewriteStagingReplaces(gomod []byte, version string) ([]byte, int, error) {
	if !semver.IsValid(version) {
		return nil, 0, fmt.Errorf("staging version %q is not a semantic version", version)
	}
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("parse Kubernetes go.mod: %w", err)
	}
	var targets []string
	for _, r := range f.Replace {
		if strings.HasPrefix(r.Old.Path, "k8s.io/") && modfile.IsDirectoryPath(r.New.Path) &&
			strings.HasPrefix(filepath.ToSlash(r.New.Path), "./staging/") {
			targets = append(targets, r.Old.Path)
		}
	}
	if len(targets) == 0 {
		return nil, 0, fmt.Errorf("no ./staging replaces in the Kubernetes go.mod: the module layout changed, update the forge's k8s recipe")
	}
	for _, p := range targets {
		if err := f.DropReplace(p, ""); err != nil {
			return nil, 0, fmt.Errorf("drop replace %s: %w", p, err)
		}
		if err := f.AddReplace(p, "", p, version); err != nil {
			return nil, 0, fmt.Errorf("replace %s: %w", p, err)
		}
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return nil, 0, fmt.Errorf("format go.mod: %w", err)
	}
	return out, len(targets), nil
}

// k8sLDFlags composes the linker flags of a Kubernetes release build: strip
// symbols and set the version variables that `kubeadm version` and the
// apiserver's /version report. buildDate is fixed by the caller (the
// module's commit time) so rebuilds are reproducible.
func k8sLDFlags(version, commit string, buildDate time.Time) (string, error) {
	if !semver.IsValid(version) {
		return "", fmt.Errorf("kubernetes version %q is not a semantic version", version)
	}
	mm := strings.TrimPrefix(semver.MajorMinor(version), "v")
	major, minor, ok := strings.Cut(mm, ".")
	if !ok {
		return "", fmt.Errorf("kubernetes version %q has no minor version", version)
	}
	vars := []struct{ k, v string }{
		{"gitVersion", version},
		{"gitMajor", major},
		{"gitMinor", minor},
		{"gitCommit", commit},
		{"gitTreeState", "clean"},
		{"buildDate", buildDate.UTC().Format("2006-01-02T15:04:05Z")},
	}
	flags := []string{"-s", "-w"}
	for _, pkg := range k8sVersionPackages {
		for _, kv := range vars {
			flags = append(flags, "-X", pkg+"."+kv.k+"="+kv.v)
		}
	}
	return strings.Join(flags, " "), nil
}

// checkKubeadmVersion runs the freshly built kubeadm: a wrong ldflags
// package path would silently leave "v0.0.0-master".
func checkKubeadmVersion(ctx context.Context, kubeadm, want string) error {
	out, err := exec.CommandContext(ctx, kubeadm, "version", "-o", "short").Output()
	if err != nil {
		return fmt.Errorf("run %s version: %w", kubeadm, err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		return fmt.Errorf("kubeadm version -o short says %q, want %q: check the -X version flags", got, want)
	}
	return nil
}

// writeIfChanged writes a file unless it already holds data, keeping its
// modification time (and so the go command's view of it) stable.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// k8sBuildList returns the module versions a Kubernetes build selects:
// its go.mod's requirements, with the staging modules at staging and other
// replaced versions applied.
func k8sBuildList(gomod []byte, staging string) (map[string]string, error) {
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return nil, fmt.Errorf("parse Kubernetes go.mod: %w", err)
	}
	replaced := map[string]string{}
	for _, r := range f.Replace {
		switch {
		case modfile.IsDirectoryPath(r.New.Path) && strings.HasPrefix(filepath.ToSlash(r.New.Path), "./staging/"):
			replaced[r.Old.Path] = staging
		case r.New.Path == r.Old.Path && r.New.Version != "":
			replaced[r.Old.Path] = r.New.Version
		}
	}
	list := map[string]string{}
	for _, r := range f.Require {
		v := r.Mod.Version
		if rv, ok := replaced[r.Mod.Path]; ok {
			v = rv
		}
		list[r.Mod.Path] = v
	}
	return list, nil
}

// alignOn returns the requirements that make a module which requires own
// select ref's version of every module both use, where ref's is newer
// (never older: a module's requirements are its minimums). The forge
// aligns the addons on the Kubernetes build list so the packages they
// share (k8s.io/api, client-go, grpc, ...) compile once for all of them.
func alignOn(own, ref map[string]string) map[string]string {
	out := map[string]string{}
	for p, v := range own {
		if rv, ok := ref[p]; ok && semver.IsValid(rv) && semver.Compare(rv, v) > 0 {
			out[p] = rv
		}
	}
	return out
}

// requires reads the requirements of a go.mod file.
func requires(gomodPath string) (map[string]string, error) {
	data, err := os.ReadFile(gomodPath)
	if err != nil {
		return nil, fmt.Errorf("read go.mod: %w", err)
	}
	f, err := modfile.ParseLax(gomodPath, data, nil)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", gomodPath, err)
	}
	out := map[string]string{}
	for _, r := range f.Require {
		out[r.Mod.Path] = r.Mod.Version
	}
	return out, nil
}

// k8sAlignment is what a module whose go.mod is at gomodPath must require
// to share the Kubernetes build's versions.
func (b *goBuilder) k8sAlignment(ctx context.Context, gomodPath string) (map[string]string, error) {
	k8s, err := b.module(ctx, k8sModule, images.KubernetesVersion)
	if err != nil {
		return nil, err
	}
	kmod, err := os.ReadFile(k8s.GoMod)
	if err != nil {
		return nil, fmt.Errorf("read the Kubernetes go.mod: %w", err)
	}
	ref, err := k8sBuildList(kmod, images.StagingVersion)
	if err != nil {
		return nil, err
	}
	own, err := requires(gomodPath)
	if err != nil {
		return nil, err
	}
	return alignOn(own, ref), nil
}
