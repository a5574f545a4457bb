package forge

import (
	"compress/gzip"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// netbaseRoots are the packages the kube-proxy and flannel images need:
// packet filtering (both iptables backends, nft), conntrack, ipset, a shell
// and core tools (busybox), and the C library. Their dependency closure is
// cut from the debootstrapped root filesystem.
var netbaseRoots = []string{"iptables", "nftables", "conntrack", "ipset", "busybox-static", "libc6", "netbase"}

// docPaths are left out of every layer cut from the root filesystem.
var docPaths = []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/locale", "usr/share/bug"}

// iptablesWrapper relinks the iptables commands to the node's backend on
// first use (gotcha 13 of the offline-lab note).
//
//go:embed files/iptables-wrapper.sh
var iptablesWrapper []byte

// iptablesCommands are the names iptablesWrapper stands in for until it ran.
var iptablesCommands = []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"}

func netbaseKey() string {
	return inputsKey("netbase", rootfsKey(), strings.Join(netbaseRoots, ","), skeletonRevision,
		strings.Join(docPaths, ","), string(iptablesWrapper))
}

func (f *Forge) layerPath(name string) string {
	return filepath.Join(f.opts.CacheDir, "layers", name+".tar.gz")
}

// sharedLayers are the layers component images are stacked from, all cut
// from the root filesystem by netbaseStep.
var sharedLayers = []string{layerSkeleton, layerBusybox, layerNetbase}

const (
	layerSkeleton = "skeleton"
	layerBusybox  = "busybox"
	layerNetbase  = "netbase"
)

// netbaseStep cuts the shared component layers out of the root filesystem:
// the skeleton (users, CA bundle), busybox, and the networking userland of
// kube-proxy and flannel. Netbase uses only the root filesystem's dpkg
// database: the packages' file lists, resolved through the merged-usr
// links, so the host's own distribution plays no part.
func (f *Forge) netbaseStep() stepSpec {
	return stepSpec{
		name:  "netbase",
		title: "Cutting skeleton, busybox and netbase layers from the root filesystem",
		key:   netbaseKey(),
		present: func(context.Context) bool {
			for _, l := range sharedLayers {
				if _, err := os.Stat(f.layerPath(l)); err != nil {
					return false
				}
			}
			return true
		},
		run: func(ctx context.Context, log io.Writer) error {
			root := f.rootfsDir()
			if err := buildSkeleton(root, f.layerPath(layerSkeleton)); err != nil {
				return fmt.Errorf("skeleton layer: %w", err)
			}
			if err := buildBusybox(ctx, root, f.layerPath(layerBusybox)); err != nil {
				return fmt.Errorf("busybox layer: %w", err)
			}
			if err := buildNetbase(ctx, log, root, f.layerPath(layerNetbase)); err != nil {
				return fmt.Errorf("netbase layer: %w", err)
			}
			return nil
		},
	}
}

// skeletonRevision names the skeleton's contents in input keys.
const skeletonRevision = "skeleton-1"

// The skeleton's users: root, nobody, distroless' nonroot (65532).
const (
	skeletonPasswd   = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	skeletonGroup    = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
	skeletonNSSwitch = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n"
)

// buildSkeleton writes what a static binary expects around it, as in
// distroless/static: users, name service config, CA bundle, /tmp.
func buildSkeleton(root, out string) error {
	l, err := newLayer(out, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	err = errors.Join(
		l.dir("etc", 0o755),
		l.file("etc/passwd", 0o644, []byte(skeletonPasswd)),
		l.file("etc/group", 0o644, []byte(skeletonGroup)),
		l.file("etc/nsswitch.conf", 0o644, []byte(skeletonNSSwitch)),
		l.dir("etc/ssl", 0o755),
		l.dir("etc/ssl/certs", 0o755),
		l.binaryMode("etc/ssl/certs/ca-certificates.crt", filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"), 0o644),
		l.dir("root", 0o700),
		l.dir("tmp", 0o1777),
		l.dirOwned("home/nonroot", 0o700, 65532, 65532),
	)
	if err != nil {
		l.abort()
		return err
	}
	return l.close()
}

// buildBusybox writes busybox with its applet links and the merged-usr
// links, for images that run shell scripts.
func buildBusybox(ctx context.Context, root, out string) error {
	l, err := newLayer(out, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	if err := addMergedUsrLinks(l, root); err != nil {
		l.abort()
		return err
	}
	if err := addRootfsPath(l, root, "/bin/busybox"); err != nil {
		l.abort()
		return err
	}
	if err := addBusyboxApplets(ctx, l, root); err != nil {
		l.abort()
		return err
	}
	return l.close()
}

// buildNetbase writes the dependency closure of netbaseRoots, the
// iptables wrapper and busybox's applet links.
func buildNetbase(ctx context.Context, log io.Writer, root, out string) error {
	st, err := os.Open(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return fmt.Errorf("read the root filesystem's dpkg database: %w", err)
	}
	db, err := parseDpkgStatus(st)
	st.Close()
	if err != nil {
		return err
	}
	pkgs, err := db.closure(netbaseRoots)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "netbase packages (%d): %s\n", len(pkgs), strings.Join(pkgs, " "))

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
	// The wrapper goes first so the packages' own iptables links, if any,
	// are not written over it.
	if err := l.file("usr/sbin/iptables-wrapper", 0o755, iptablesWrapper); err != nil {
		return err
	}
	for _, c := range iptablesCommands {
		if err := l.symlink("usr/sbin/"+c, "iptables-wrapper"); err != nil {
			return err
		}
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
	if err := addBusyboxApplets(ctx, l, root); err != nil {
		return err
	}
	if err := l.close(); err != nil {
		return err
	}
	ok = true
	return nil
}

// addMergedUsrLinks copies the root filesystem's top-level links (bin ->
// usr/bin, lib -> usr/lib ...) so paths from file lists and scripts work.
func addMergedUsrLinks(l *layerWriter, root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		if err := l.hostPath(e.Name(), filepath.Join(root, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func isDocPath(rel string) bool {
	for _, d := range docPaths {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

// addRootfsPath adds the absolute path p of the root filesystem, resolving
// linked folders, and for a symlink also what it points to (alternatives
// under /etc/alternatives are not in any file list).
func addRootfsPath(l *layerWriter, root, p string) error {
	for hops := 0; hops < 16; hops++ {
		resolved, err := resolveInRoot(root, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(resolved, "/")
		if rel == "" || isDocPath(rel) || l.has(rel) {
			return nil
		}
		host := filepath.Join(root, rel)
		fi, err := os.Lstat(host)
		if err != nil {
			// File lists also name diverted and since-removed files.
			return nil
		}
		if err := l.hostPath(rel, host); err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		target, err := os.Readlink(host)
		if err != nil {
			return err
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(resolved), target)
		}
		if tfi, err := os.Stat(filepath.Join(root, target)); err == nil && tfi.IsDir() {
			return nil
		}
		p = target
	}
	return fmt.Errorf("%s: symlink chain too long", p)
}

// addBusyboxApplets links every busybox applet that no package provides,
// at the path busybox itself would install it.
func addBusyboxApplets(ctx context.Context, l *layerWriter, root string) error {
	bb, err := resolveInRoot(root, "/bin/busybox")
	if err != nil {
		return err
	}
	if !l.has(bb) {
		return fmt.Errorf("busybox is not in the layer (%s)", bb)
	}
	applets, err := busyboxApplets(ctx, filepath.Join(root, bb))
	if err != nil {
		return err
	}
	for _, a := range applets {
		p, err := resolveInRoot(root, "/"+a)
		if err != nil {
			return err
		}
		if l.has(p) {
			continue
		}
		if err := l.symlink(p, bb); err != nil {
			return err
		}
	}
	return nil
}

// busyboxApplets lists the applets' install paths ("usr/bin/awk"). The
// busybox-static binary runs on any amd64 Linux host.
func busyboxApplets(ctx context.Context, busybox string) ([]string, error) {
	out, err := exec.CommandContext(ctx, busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets: %w", err)
	}
	var applets []string
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.Contains(line, "..") {
			applets = append(applets, line)
		}
	}
	sort.Strings(applets)
	return applets, nil
}
