package forge

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// nodeEntrypoint and nodeStopSignal are kind's node image settings: systemd
// runs as PID 1 behind kind's entrypoint and stops on SIGRTMIN+3.
var nodeEntrypoint = []string{"/usr/local/bin/entrypoint", "/sbin/init"}

const nodeStopSignal = "SIGRTMIN+3"

// defaultPath is the PATH of every forge image.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// baseUnits are enabled as kind's Dockerfile does; maskedUnits are masked
// (systemd-binfmt registers handlers in the host kernel's binfmt_misc).
var (
	baseUnits   = []string{"kubelet.service", "containerd.service", "undo-mount-hacks.service"}
	maskedUnits = []string{"systemd-binfmt.service"}
)

// systemdTrim are the units kind's Dockerfile removes from the stock
// wants folders (globs, in the merged-usr layout).
var systemdTrim = []string{
	"usr/lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service",
	"usr/lib/systemd/system/multi-user.target.wants/*",
	"etc/systemd/system/*.wants/*",
	"usr/lib/systemd/system/local-fs.target.wants/*",
	"usr/lib/systemd/system/sockets.target.wants/*udev*",
	"usr/lib/systemd/system/sockets.target.wants/*initctl*",
	"usr/lib/systemd/system/basic.target.wants/*",
}

// containerdShims are linked into /usr/local/bin, where kind's containerd
// unit and scripts expect them; Debian installs them in /usr/bin.
var containerdShims = []string{"containerd", "ctr", "containerd-shim-runc-v2"}

// baseContentsSkipped keeps the folders but not the contents of runtime
// and cache paths debootstrap leaves behind.
var baseContentsSkipped = []string{"dev", "proc", "sys", "run", "tmp", "var/tmp", "var/lib/apt/lists", "var/cache/apt", "var/log"}

func baseKey() string {
	return inputsKey("base", rootfsKey(), pins.Kind, pins.PauseImage,
		strings.Join(baseUnits, ","), strings.Join(maskedUnits, ","), strings.Join(systemdTrim, ","),
		strings.Join(containerdShims, ","), strings.Join(baseContentsSkipped, ","), strings.Join(docPaths, ","),
		strings.Join(nodeEntrypoint, " "), nodeStopSignal)
}

// baseStep turns the root filesystem into kind's base image, following
// kind's images/base/Dockerfile without running a container: kind's files
// come from the kind module, the Dockerfile's RUN steps are file edits, and
// the image is written by go-containerregistry (which can set STOPSIGNAL,
// unlike docker import) and loaded with docker load.
func (f *Forge) baseStep() stepSpec {
	key := baseKey()
	return stepSpec{
		name:    "base-image",
		title:   "Building base image " + images.ForgeBaseImage,
		key:     key,
		present: func(ctx context.Context) bool { return f.imageHasKey(ctx, images.ForgeBaseImage, key) },
		run: func(ctx context.Context, log io.Writer) error {
			kindDir, err := f.kindModuleDir(ctx, log)
			if err != nil {
				return err
			}
			ov, err := baseOverlay(ctx, log, f.rootfsDir(), filepath.Join(kindDir, "images/base/files"))
			if err != nil {
				return err
			}
			layerPath := f.layerPath("base")
			defer os.Remove(layerPath)
			if err := writeBaseLayer(ctx, layerPath, f.rootfsDir(), ov); err != nil {
				return err
			}
			cfg := v1.Config{
				Entrypoint: nodeEntrypoint,
				Env:        []string{defaultPath, "container=docker"},
				StopSignal: nodeStopSignal,
			}
			img, err := newImage(cfg, key, layerPath)
			if err != nil {
				return err
			}
			return f.dockerLoadImage(ctx, log, images.ForgeBaseImage, img)
		},
	}
}

// overlayEntry is a file, folder or link the base image adds or replaces.
type overlayEntry struct {
	typ  byte // 'f' file, 'd' folder, 'l' symlink, 'h' hard link
	mode int64
	data []byte
	link string
}

// overlay is what the base image changes in the root filesystem.
type overlay struct {
	entries map[string]overlayEntry
	deleted map[string]bool
}

func (o *overlay) put(name string, e overlayEntry) { o.entries[cleanName(name)] = e }

// baseOverlay computes every change kind's Dockerfile makes.
func baseOverlay(ctx context.Context, log io.Writer, root, kindFiles string) (*overlay, error) {
	o := &overlay{entries: map[string]overlayEntry{}, deleted: map[string]bool{}}

	// COPY files/...: scripts and kind/bin are 0755, everything else 0644.
	err := filepath.WalkDir(kindFiles, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(kindFiles, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if strings.HasPrefix(rel, "usr/local/bin/") || strings.HasPrefix(rel, "kind/bin/") {
			mode = 0o755
		}
		o.put(rel, overlayEntry{typ: 'f', mode: mode, data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read kind's base image files: %w", err)
	}
	if _, ok := o.entries["usr/local/bin/entrypoint"]; !ok {
		return nil, fmt.Errorf("kind's base image files in %s have no usr/local/bin/entrypoint", kindFiles)
	}
	for _, d := range []string{"kind", "kind/bin", "etc/kubernetes", "etc/kubernetes/manifests", "opt/cni", "opt/cni/bin"} {
		o.put(d, overlayEntry{typ: 'd', mode: 0o755})
	}

	// The two containerd settings this lab needs (gotchas 2 and 8).
	cfg, err := editContainerdConfig(string(o.entries["etc/containerd/config.toml"].data), images.PauseImage)
	if err != nil {
		return nil, err
	}
	o.put("etc/containerd/config.toml", overlayEntry{typ: 'f', mode: 0o644, data: []byte(cfg)})

	// ctr oci spec | jq ... > /etc/containerd/cri-base.json
	spec, err := criBaseSpec(ctx, log, root)
	if err != nil {
		return nil, err
	}
	o.put("etc/containerd/cri-base.json", overlayEntry{typ: 'f', mode: 0o644, data: spec})

	for _, s := range containerdShims {
		if _, err := os.Stat(filepath.Join(root, "usr/bin", s)); err != nil {
			return nil, fmt.Errorf("the root filesystem has no /usr/bin/%s (Debian's containerd package): %w", s, err)
		}
		o.put("usr/local/bin/"+s, overlayEntry{typ: 'l', link: "/usr/bin/" + s})
	}

	// CNI plugins: hard links, so they take no room twice.
	plugins, err := os.ReadDir(filepath.Join(root, "usr/lib/cni"))
	if err != nil {
		return nil, fmt.Errorf("the root filesystem has no CNI plugins (containernetworking-plugins): %w", err)
	}
	for _, p := range plugins {
		if p.Type().IsRegular() {
			o.put("opt/cni/bin/"+p.Name(), overlayEntry{typ: 'h', link: "usr/lib/cni/" + p.Name()})
		}
	}

	// systemd trimming, then enabling and masking.
	for _, pattern := range systemdTrim {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			rel, _ := filepath.Rel(root, m)
			o.deleted[filepath.ToSlash(rel)] = true
		}
	}
	journald, err := os.ReadFile(filepath.Join(root, "etc/systemd/journald.conf"))
	if err != nil {
		return nil, fmt.Errorf("read journald.conf: %w", err)
	}
	o.put("etc/systemd/journald.conf", overlayEntry{typ: 'f', mode: 0o644, data: append(journald, "ReadKMsg=no\n"...)})
	for _, unit := range baseUnits {
		u, ok := o.entries["etc/systemd/system/"+unit]
		if !ok {
			return nil, fmt.Errorf("kind's base files have no unit %s", unit)
		}
		targets := wantedBy(string(u.data))
		if len(targets) == 0 {
			return nil, fmt.Errorf("unit %s has no WantedBy= to enable it with", unit)
		}
		for _, t := range targets {
			o.put("etc/systemd/system/"+t+".wants", overlayEntry{typ: 'd', mode: 0o755})
			o.put("etc/systemd/system/"+t+".wants/"+unit, overlayEntry{typ: 'l', link: "/etc/systemd/system/" + unit})
		}
	}
	for _, unit := range maskedUnits {
		o.put("etc/systemd/system/"+unit, overlayEntry{typ: 'l', link: "/dev/null"})
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/sbin/init")); err != nil {
		o.put("usr/sbin/init", overlayEntry{typ: 'l', link: "/usr/lib/systemd/systemd"})
	}

	// What debootstrap copied from the build host does not belong in an image.
	o.put("etc/resolv.conf", overlayEntry{typ: 'f', mode: 0o644})
	o.put("etc/hostname", overlayEntry{typ: 'f', mode: 0o644})
	o.put("etc/machine-id", overlayEntry{typ: 'f', mode: 0o444})
	return o, nil
}

// wantedBy returns the targets of the WantedBy= lines of a unit's [Install].
func wantedBy(unit string) []string {
	var out []string
	section := ""
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "[Install]" && strings.TrimSpace(k) == "WantedBy" {
			out = append(out, strings.Fields(v)...)
		}
	}
	return out
}

var (
	sandboxImageRE = regexp.MustCompile(`(?m)^(\s*sandbox_image\s*=\s*)"[^"]*"`)
	restrictOOMRE  = regexp.MustCompile(`(?m)^(\s*restrict_oom_score_adj\s*=\s*)(true|false)`)
)

// editContainerdConfig sets the sandbox image to kubeadm's pause tag and
// turns on restrict_oom_score_adj: this host has no CAP_SYS_RESOURCE, so
// without it every pod sandbox fails with "can't get final child's PID
// from pipe: EOF". Either setting missing from kind's config is an error,
// so a kind upgrade that moves them is noticed.
func editContainerdConfig(cfg, pauseImage string) (string, error) {
	var errs []error
	if !sandboxImageRE.MatchString(cfg) {
		errs = append(errs, errors.New("no sandbox_image setting"))
	}
	if !restrictOOMRE.MatchString(cfg) {
		errs = append(errs, errors.New("no restrict_oom_score_adj setting"))
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("edit kind's containerd config: %w", err)
	}
	cfg = sandboxImageRE.ReplaceAllString(cfg, `${1}"`+pauseImage+`"`)
	cfg = restrictOOMRE.ReplaceAllString(cfg, `${1}true`)
	return cfg, nil
}

// criBaseSpec is kind's `ctr oci spec | jq ...`: containerd's default
// runtime spec with kind's product-files hook and no rlimits.
func criBaseSpec(ctx context.Context, log io.Writer, root string) ([]byte, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "chroot", root, "/usr/bin/ctr", "oci", "spec")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	fmt.Fprintf(log, "+ chroot %s /usr/bin/ctr oci spec\n", root)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ctr oci spec in the root filesystem: %w: %s", err, strings.TrimSpace(errOut.String()))
	}
	return editCRIBaseSpec(out.Bytes())
}

func editCRIBaseSpec(raw []byte) ([]byte, error) {
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("parse ctr oci spec: %w", err)
	}
	hooks, _ := spec["hooks"].(map[string]any)
	if hooks == nil {
		hooks = map[string]any{}
	}
	create, _ := hooks["createContainer"].([]any)
	hooks["createContainer"] = append(create, map[string]any{"path": "/kind/bin/mount-product-files.sh"})
	spec["hooks"] = hooks
	if process, ok := spec["process"].(map[string]any); ok {
		delete(process, "rlimits")
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeBaseLayer writes the root filesystem with the overlay applied as one
// layer.
func writeBaseLayer(ctx context.Context, out, root string, o *overlay) error {
	l, err := newLayer(out, gzip.BestSpeed)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			l.abort()
		}
	}()
	err = l.tree(root, func(rel string, d fs.DirEntry) (bool, bool) {
		if ctx.Err() != nil {
			return true, true
		}
		if o.deleted[rel] {
			return true, false
		}
		if e, ok := o.entries[rel]; ok && (e.typ != 'd' || !d.IsDir()) {
			return true, false
		}
		if strings.HasPrefix(rel, "usr/share/doc/") {
			// Keep licences, like Debian's slim images.
			return !d.IsDir() && d.Name() != "copyright", false
		}
		if rel != "usr/share/doc" && isDocPath(rel) {
			return true, false
		}
		for _, s := range baseContentsSkipped {
			if rel == s {
				return false, true
			}
		}
		return false, false
	})
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	names := make([]string, 0, len(o.entries))
	for n := range o.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := o.entries[n]
		if l.has(n) {
			continue // a folder the root filesystem already has
		}
		switch e.typ {
		case 'f':
			err = l.file(n, e.mode, e.data)
		case 'd':
			err = l.dir(n, e.mode)
		case 'l':
			err = l.symlink(n, e.link)
		case 'h':
			err = l.hardlink(n, e.link)
		}
		if err != nil {
			return err
		}
	}
	if err := l.close(); err != nil {
		return err
	}
	ok = true
	return nil
}

// kindModuleDir finds kind's module source (images/base/files) in the Go
// module cache, downloading it through the module proxy if needed.
func (f *Forge) kindModuleDir(ctx context.Context, log io.Writer) (string, error) {
	return f.moduleDir(ctx, log, "sigs.k8s.io/kind", images.KindVersion)
}

func (f *Forge) moduleDir(ctx context.Context, log io.Writer, mod, version string) (string, error) {
	gobin, err := findGo()
	if err != nil {
		return "", err
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, gobin, "mod", "download", "-json", mod+"@"+version)
	cmd.Dir = f.opts.CacheDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	fmt.Fprintf(log, "+ go mod download -json %s@%s\n", mod, version)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s%s", mod, version, err, errOut.String(), out.String())
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", mod, version, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", mod, version, info.Error)
	}
	return info.Dir, nil
}
