package forge

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nodelab/nodelab/lab/images"
)

// extrasPackages are the Debian packages addon images are cut from. They
// are installed with apt into a copy of the node root filesystem (same
// suite, same mirror), so each addon image can take the dependency closure
// of its own packages from one dpkg database.
var extrasPackages = []string{"redis-server", "redis-tools", "stress-ng", "ipset", "iproute2", "procps", "nginx"}

// maintainerOnly are packages that Depends pulls in only for maintainer
// scripts (creating users at install time); images leave them out.
var maintainerOnly = []string{"adduser", "passwd", "debconf", "perl-base", "lsb-base", "sysvinit-utils", "init-system-helpers"}

func extrasKey() string {
	return inputsKey("extras", rootfsKey(), strings.Join(extrasPackages, ","))
}

// extrasDir is the root filesystem with extrasPackages installed.
func (f *Forge) extrasDir() string {
	return filepath.Join(f.opts.CacheDir, "rootfs", images.DebianSuite+"-extras")
}

// extrasStep copies the node root filesystem and installs extrasPackages
// into the copy with apt in a chroot, from the mirror debootstrap used.
// Services are kept from starting (policy-rc.d). Like rootfsStep it works in
// a partial folder that is renamed into place only when apt succeeded.
func (f *Forge) extrasStep() stepSpec {
	dir := f.extrasDir()
	return stepSpec{
		name:  "extras-rootfs",
		title: "Installing addon packages (" + strings.Join(extrasPackages, ", ") + ") into a copy of the root filesystem",
		key:   extrasKey(),
		present: func(context.Context) bool {
			_, err := os.Stat(filepath.Join(dir, "var/lib/dpkg/status"))
			return err == nil
		},
		run: func(ctx context.Context, log io.Writer) error {
			src := f.rootfsDir()
			if _, err := os.Stat(filepath.Join(src, "var/lib/dpkg/status")); err != nil {
				return fmt.Errorf("the node root filesystem is not built (run `nodelab images build` first): %w", err)
			}
			partial := dir + ".partial"
			if err := removeTree(partial); err != nil {
				return fmt.Errorf("remove the unfinished extras tree: %w", err)
			}
			if err := f.exec(ctx, log, command{}, "cp", "-a", src, partial); err != nil {
				return fmt.Errorf("copy the root filesystem: %w", err)
			}
			// Name resolution for apt, and no service starts in the chroot.
			if err := copyFile("/etc/resolv.conf", filepath.Join(partial, "etc/resolv.conf")); err != nil {
				return fmt.Errorf("resolv.conf for apt in the chroot: %w", err)
			}
			policy := filepath.Join(partial, "usr/sbin/policy-rc.d")
			if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
				return err
			}
			chroot, err := exec.LookPath("chroot")
			if err != nil {
				return fmt.Errorf("chroot not found (coreutils): %w", err)
			}
			env := command{env: []string{"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"}}
			if err := f.exec(ctx, log, env, chroot, partial, "apt-get", "update"); err != nil {
				return fmt.Errorf("apt-get update in the chroot (the Debian mirror in its sources.list must be reachable): %w", err)
			}
			args := append([]string{partial, "apt-get", "install", "-y", "--no-install-recommends"}, extrasPackages...)
			if err := f.exec(ctx, log, env, chroot, args...); err != nil {
				return fmt.Errorf("apt-get install in the chroot: %w", err)
			}
			_ = os.Remove(policy)
			_ = removeTree(filepath.Join(partial, "var/cache/apt/archives"))
			_ = removeTree(filepath.Join(partial, "var/lib/apt/lists"))
			if err := removeTree(dir); err != nil {
				return fmt.Errorf("remove the previous extras tree: %w", err)
			}
			return os.Rename(partial, dir)
		},
	}
}

// buildPackagesLayer writes the dependency closure of roots from the dpkg
// database of root (without maintainerOnly packages) plus the merged-usr
// links, gzip-compressed, to out.
func buildPackagesLayer(ctx context.Context, log io.Writer, root, out string, roots []string) error {
	st, err := os.Open(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return fmt.Errorf("read the dpkg database of %s: %w", root, err)
	}
	db, err := parseDpkgStatus(st)
	st.Close()
	if err != nil {
		return err
	}
	pkgs, err := db.closureSkipping(roots, maintainerOnly)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "packages (%d): %s\n", len(pkgs), strings.Join(pkgs, " "))
	l, err := newLayer(out, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			l.abort()
		}
	}()
	if err := addMergedUsrLinks(l, root); err != nil {
		return err
	}
	for _, name := range pkgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		files, err := packageFiles(root, db.pkgs[name])
		if err != nil {
			return err
		}
		for _, p := range files {
			if err := addRootfsPath(l, root, p); err != nil {
				return fmt.Errorf("package %s: %w", name, err)
			}
		}
	}
	if err := l.close(); err != nil {
		return err
	}
	ok = true
	return nil
}
