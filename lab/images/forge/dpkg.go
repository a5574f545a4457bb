package forge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// dpkgPackage is one installed package of a dpkg status database.
type dpkgPackage struct {
	Name, Arch, Version string
	// Depends holds Pre-Depends and Depends: each inner slice is a group of
	// alternatives ("a | b"), names only (versions and :any dropped).
	Depends [][]string
	// Provides lists the virtual packages this one provides.
	Provides []string
}

// dpkgDB is the installed packages of a root filesystem, by name.
type dpkgDB struct {
	pkgs map[string]*dpkgPackage
	// providers maps a virtual package to the installed packages providing it.
	providers map[string][]string
}

// parseDpkgStatus reads /var/lib/dpkg/status, keeping only packages whose
// Status is "install ok installed".
func parseDpkgStatus(r io.Reader) (*dpkgDB, error) {
	db := &dpkgDB{pkgs: map[string]*dpkgPackage{}, providers: map[string][]string{}}
	fields := map[string]string{}
	var last string
	flush := func() {
		defer func() { fields = map[string]string{}; last = "" }()
		if fields["package"] == "" || fields["status"] != "install ok installed" {
			return
		}
		p := &dpkgPackage{Name: fields["package"], Arch: fields["architecture"], Version: fields["version"]}
		p.Depends = append(parseDependsField(fields["pre-depends"]), parseDependsField(fields["depends"])...)
		for _, g := range parseDependsField(fields["provides"]) {
			p.Provides = append(p.Provides, g...)
		}
		db.pkgs[p.Name] = p
		for _, v := range p.Provides {
			db.providers[v] = append(db.providers[v], p.Name)
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				fields[last] += "\n" + line
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("dpkg status: malformed line %q", line)
			}
			last = strings.ToLower(k)
			fields[last] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dpkg status: %w", err)
	}
	flush()
	for _, names := range db.providers {
		sort.Strings(names)
	}
	return db, nil
}

// parseDependsField splits "a (>= 1) | b:any, c [amd64]" into [[a b] [c]].
func parseDependsField(v string) [][]string {
	var out [][]string
	for _, group := range strings.Split(v, ",") {
		var alts []string
		for _, alt := range strings.Split(group, "|") {
			alt = strings.TrimSpace(alt)
			if i := strings.IndexAny(alt, " ([<"); i >= 0 {
				alt = alt[:i]
			}
			alt, _, _ = strings.Cut(alt, ":")
			if alt != "" {
				alts = append(alts, alt)
			}
		}
		if len(alts) > 0 {
			out = append(out, alts)
		}
	}
	return out
}

// resolve returns the installed package that satisfies name, directly or
// as the first provider of a virtual package.
func (db *dpkgDB) resolve(name string) (string, bool) {
	if _, ok := db.pkgs[name]; ok {
		return name, true
	}
	if p := db.providers[name]; len(p) > 0 {
		return p[0], true
	}
	return "", false
}

// closure is the sorted set of installed packages roots need, following
// Pre-Depends and Depends. In a group of alternatives the first installed
// one wins.
func (db *dpkgDB) closure(roots []string) ([]string, error) {
	return db.closureSkipping(roots, nil)
}

// closureSkipping is closure without following dependencies on the skip
// packages (they count as satisfied and are left out).
func (db *dpkgDB) closureSkipping(roots, skip []string) ([]string, error) {
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	seen := map[string]bool{}
	var queue []string
	var errs []error
	for _, r := range roots {
		name, ok := db.resolve(r)
		if !ok {
			errs = append(errs, fmt.Errorf("package %s is not installed in the root filesystem", r))
			continue
		}
		if !seen[name] {
			seen[name] = true
			queue = append(queue, name)
		}
	}
	for len(queue) > 0 {
		p := db.pkgs[queue[0]]
		queue = queue[1:]
		for _, group := range p.Depends {
			chosen := ""
			if slices.ContainsFunc(group, func(alt string) bool { return skipped[alt] }) {
				continue
			}
			for _, alt := range group {
				if name, ok := db.resolve(alt); ok {
					chosen = name
					break
				}
			}
			if chosen == "" {
				errs = append(errs, fmt.Errorf("%s depends on %s, which is not installed in the root filesystem",
					p.Name, strings.Join(group, " | ")))
				continue
			}
			if seen[chosen] {
				continue
			}
			seen[chosen] = true
			queue = append(queue, chosen)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// packageFiles reads the file list dpkg keeps for pkg in root
// (var/lib/dpkg/info/<pkg>.list or <pkg>:<arch>.list).
func packageFiles(root string, p *dpkgPackage) ([]string, error) {
	info := filepath.Join(root, "var/lib/dpkg/info")
	candidates := []string{p.Name + ":" + p.Arch + ".list", p.Name + ".list"}
	for _, c := range candidates {
		b, err := os.ReadFile(filepath.Join(info, c))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && line != "/." {
				out = append(out, line)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no file list for package %s in %s (tried %s)", p.Name, info, strings.Join(candidates, ", "))
}

// resolveInRoot follows the symlinks of every folder of the absolute path
// p inside root (not the last element), so "/bin/busybox" in a merged-usr
// tree becomes "/usr/bin/busybox". Absolute link targets stay inside root.
func resolveInRoot(root, p string) (string, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for i, part := range parts {
		next := path.Join(cur, part)
		if i == len(parts)-1 {
			return next, nil
		}
		for hops := 0; ; hops++ {
			if hops > 40 {
				return "", fmt.Errorf("resolve %s: too many symlinks", p)
			}
			fi, err := os.Lstat(filepath.Join(root, next))
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				break
			}
			target, err := os.Readlink(filepath.Join(root, next))
			if err != nil {
				return "", err
			}
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(next), target)
			}
			// The link's own target may have linked folders too.
			if next, err = resolveInRoot(root, target); err != nil {
				return "", err
			}
		}
		cur = next
	}
	return cur, nil
}
