package forge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nodelab/nodelab/lab/images"
)

// rootfsPackages are installed by debootstrap on top of minbase: what
// kind's base image installs (minus nfs-common and open-iscsi), Debian's
// containerd, runc and CNI plugins (kind builds its own), and what the netbase
// and busybox layers are cut from (ipset, busybox-static).
var rootfsPackages = []string{
	"systemd", "systemd-sysv", "dbus",
	"conntrack", "iptables", "nftables", "iproute2", "ethtool", "util-linux", "mount", "kmod",
	"libseccomp2", "pigz", "fuse-overlayfs",
	"bash", "ca-certificates", "curl", "jq", "procps",
	"containerd", "runc", "containernetworking-plugins",
	"socat", "ipset", "e2fsprogs", "iputils-ping", "less",
	"busybox-static",
}

// rootfsKey identifies the debootstrapped tree. The mirror is not part of
// it: every mirror serves the same suite.
func rootfsKey() string {
	return inputsKey("rootfs", pins.DebianSuite, "minbase", strings.Join(rootfsPackages, ","))
}

// rootfsDir is where the node OS tree lives once debootstrap succeeded.
func (f *Forge) rootfsDir() string {
	return filepath.Join(f.opts.CacheDir, "rootfs", images.DebianSuite)
}

// rootfsStep debootstraps the node OS into a partial folder and renames it
// into place only when debootstrap succeeded, so an interrupted run leaves
// nothing that looks finished; the next run removes the partial tree.
func (f *Forge) rootfsStep() stepSpec {
	dir := f.rootfsDir()
	return stepSpec{
		name:  "rootfs",
		title: "Bootstrapping Debian " + images.DebianSuite + " root filesystem",
		key:   rootfsKey(),
		present: func(context.Context) bool {
			_, err := os.Stat(filepath.Join(dir, "var/lib/dpkg/status"))
			return err == nil
		},
		run: func(ctx context.Context, log io.Writer) error {
			debootstrap, err := exec.LookPath("debootstrap")
			if err != nil {
				return errors.New("debootstrap not found: install it: apt-get install debootstrap")
			}
			partial := dir + ".partial"
			if err := removeTree(partial); err != nil {
				return fmt.Errorf("remove the unfinished root filesystem: %w", err)
			}
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				return err
			}
			args := []string{
				"--variant=minbase",
				"--include=" + strings.Join(rootfsPackages, ","),
				images.DebianSuite, partial,
			}
			mirror := f.opts.DebianMirror
			if mirror == "" {
				mirror = hostDebianMirror(images.DebianSuite)
			}
			if mirror != "" {
				args = append(args, mirror)
			}
			fmt.Fprintf(log, "debian mirror: %q (empty: debootstrap's default)\n", mirror)
			if err := f.exec(ctx, log, command{}, debootstrap, args...); err != nil {
				// debootstrap unmounts what it mounted on failure, but an
				// interrupt can leave /proc or /sys mounted inside.
				_ = unmountUnder(partial)
				if ctx.Err() != nil {
					return err
				}
				return fmt.Errorf("debootstrap from %q (the mirror must be reachable; Options.DebianMirror picks another): %w", mirror, err)
			}
			if err := unmountUnder(partial); err != nil {
				return err
			}
			// Package caches are not part of any image.
			_ = removeTree(filepath.Join(partial, "var/cache/apt/archives"))
			_ = os.MkdirAll(filepath.Join(partial, "var/cache/apt/archives/partial"), 0o755)
			if err := removeTree(dir); err != nil {
				return fmt.Errorf("remove the previous root filesystem: %w", err)
			}
			return os.Rename(partial, dir)
		},
	}
}

// hostDebianMirror reads the first Debian archive URI from the host's apt
// sources (deb822 .sources files, then sources.list), preferring an entry
// for suite and skipping security archives. It returns "" when there is none.
func hostDebianMirror(suite string) string {
	var entries []aptSource
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			entries = append(entries, parseDeb822Sources(string(b))...)
		}
	}
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	for _, p := range append([]string{"/etc/apt/sources.list"}, lists...) {
		if b, err := os.ReadFile(p); err == nil {
			entries = append(entries, parseSourcesList(string(b))...)
		}
	}
	return pickMirror(entries, suite)
}

// aptSource is one "deb" entry of an apt source file.
type aptSource struct {
	URIs   []string
	Suites []string
}

func pickMirror(entries []aptSource, suite string) string {
	usable := func(e aptSource) bool {
		for _, s := range e.Suites {
			if strings.Contains(s, "security") || strings.Contains(s, "/updates") {
				return false
			}
		}
		return len(e.URIs) > 0
	}
	for _, e := range entries {
		if usable(e) && slices.Contains(e.Suites, suite) {
			return e.URIs[0]
		}
	}
	for _, e := range entries {
		if usable(e) {
			return e.URIs[0]
		}
	}
	return ""
}

// parseDeb822Sources reads the stanzas of a .sources file (man 5 sources.list).
func parseDeb822Sources(text string) []aptSource {
	var out []aptSource
	fields := map[string]string{}
	flush := func() {
		types := strings.Fields(fields["types"])
		enabled := !strings.EqualFold(strings.TrimSpace(fields["enabled"]), "no")
		if enabled && slices.Contains(types, "deb") {
			out = append(out, aptSource{URIs: strings.Fields(fields["uris"]), Suites: strings.Fields(fields["suites"])})
		}
		fields = map[string]string{}
	}
	var last string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if ok {
				last = strings.ToLower(strings.TrimSpace(k))
				fields[last] = strings.TrimSpace(v)
			}
		}
	}
	flush()
	return out
}

// parseSourcesList reads one-line-style entries: deb [options] uri suite components...
func parseSourcesList(text string) []aptSource {
	var out []aptSource
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{URIs: []string{f[0]}, Suites: []string{f[1]}})
	}
	return out
}

// unmountUnder lazily unmounts every mount point at or below dir, deepest
// first, so removing dir can never reach into /proc, /sys or /dev.
func unmountUnder(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	mounts, err := mountsUnder(abs)
	if err != nil {
		return err
	}
	var errs []error
	for i := len(mounts) - 1; i >= 0; i-- {
		if out, err := exec.Command("umount", "-l", mounts[i]).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %w: %s", mounts[i], err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

func mountsUnder(abs string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountPath(f[4])
		if mp == abs || strings.HasPrefix(mp, abs+"/") {
			out = append(out, mp)
		}
	}
	slices.Sort(out)
	return out, nil
}

func unescapeMountPath(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// removeTree removes dir after making sure nothing is mounted below it.
func removeTree(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := unmountUnder(dir); err != nil {
		return err
	}
	abs, _ := filepath.Abs(dir)
	left, err := mountsUnder(abs)
	if err != nil {
		return fmt.Errorf("refusing to remove %s: cannot list its mounts: %w", dir, err)
	}
	if len(left) > 0 {
		return fmt.Errorf("refusing to remove %s: still mounted: %v", dir, left)
	}
	return os.RemoveAll(dir)
}
