package stress

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

// Limit is an amount of memory and where it was read.
type Limit struct {
	// Bytes is the amount of memory.
	Bytes uint64
	// Source names the file it came from, and why when it fell back, e.g.
	// "/proc/meminfo MemTotal (cgroup v1: /sys/fs/cgroup/memory/memory.stat
	// hierarchical_memory_limit is unlimited)".
	Source string
}

const (
	cgroupRoot   = "sys/fs/cgroup"
	cgroupV1Mem  = "sys/fs/cgroup/memory"
	procCgroup   = "proc/self/cgroup"
	procMeminfo  = "proc/meminfo"
	v2Controller = "sys/fs/cgroup/cgroup.controllers"
)

// HostMemoryLimit is ReadMemoryLimit on the real root filesystem.
func HostMemoryLimit() (Limit, error) {
	return ReadMemoryLimit(os.DirFS("/"))
}

// ReadMemoryLimit returns the memory the calling process may use: the
// smaller of its cgroup's memory limit and the host's MemTotal. fsys is
// rooted at "/" (paths like "proc/self/cgroup").
//
// The cgroup limit is, on cgroup v2, the smallest memory.max on the path
// from the process's cgroup up to /sys/fs/cgroup; on cgroup v1, the
// memory.stat hierarchical_memory_limit (which already includes ancestors),
// else memory.limit_in_bytes, of the process's memory cgroup, or of the
// mount root when the cgroup is not visible under the mount (a container's
// own view). If the cgroup path lies outside the cgroup namespace ("/.."),
// no file here describes it, so MemTotal is used and Source says so.
//
// Upstream memStress v0.3 takes percentages of MemTotal alone; nodelab uses
// the cgroup limit because "25%" of a container is what a StressChaos author
// means, and a percentage of host memory on a large host overruns any
// container limit. The Source string makes the choice visible in the log.
func ReadMemoryLimit(fsys fs.FS) (Limit, error) {
	total, err := memTotal(fsys)
	if err != nil {
		return Limit{}, fmt.Errorf("read memory limit: %w", err)
	}
	cg, found, why := cgroupLimit(fsys)
	if found && cg.Bytes < total {
		return cg, nil
	}
	if found {
		why = fmt.Sprintf("%s is %d, not below MemTotal", cg.Source, cg.Bytes)
	}
	return Limit{Bytes: total, Source: "/proc/meminfo MemTotal (" + why + ")"}, nil
}

// memTotal reads MemTotal from /proc/meminfo, in bytes.
func memTotal(fsys fs.FS) (uint64, error) {
	b, err := fs.ReadFile(fsys, procMeminfo)
	if err != nil {
		return 0, fmt.Errorf("read MemTotal: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read MemTotal from /%s: %w", procMeminfo, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("read MemTotal: no \"MemTotal: N kB\" line in /%s", procMeminfo)
}

// cgroupLimit returns the cgroup memory limit, whether one was found, and if
// not, why.
func cgroupLimit(fsys fs.FS) (Limit, bool, string) {
	b, err := fs.ReadFile(fsys, procCgroup)
	if err != nil {
		return Limit{}, false, fmt.Sprintf("cannot read /%s: %v", procCgroup, err)
	}
	_, statErr := fs.Stat(fsys, v2Controller)
	v2 := statErr == nil
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case v2 && parts[0] == "0" && parts[1] == "":
			return cgroupV2Limit(fsys, parts[2])
		case !v2 && hasController(parts[1], "memory"):
			return cgroupV1Limit(fsys, parts[2])
		}
	}
	if v2 {
		return Limit{}, false, fmt.Sprintf("cgroup v2: no \"0::\" line in /%s", procCgroup)
	}
	return Limit{}, false, fmt.Sprintf("cgroup v1: no memory line in /%s", procCgroup)
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// outsideNamespace reports whether a /proc/self/cgroup path climbs above
// the cgroup namespace root, which the mounted cgroupfs cannot show.
func outsideNamespace(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func cgroupV2Limit(fsys fs.FS, rel string) (Limit, bool, string) {
	if outsideNamespace(rel) {
		return Limit{}, false, fmt.Sprintf("cgroup v2 path %s is outside this cgroup namespace", rel)
	}
	var best Limit
	found := false
	for dir := path.Join(cgroupRoot, rel); ; dir = path.Dir(dir) {
		file := dir + "/memory.max"
		n, ok, err := readLimitFile(fsys, file)
		if err == nil && ok && (!found || n < best.Bytes) {
			best, found = Limit{Bytes: n, Source: "/" + file}, true
		}
		if dir == cgroupRoot || !strings.HasPrefix(dir, cgroupRoot+"/") {
			break
		}
	}
	if !found {
		return Limit{}, false, fmt.Sprintf("cgroup v2: memory.max is max from /%s up", path.Join(cgroupRoot, rel))
	}
	return best, true, ""
}

func cgroupV1Limit(fsys fs.FS, rel string) (Limit, bool, string) {
	if outsideNamespace(rel) {
		return Limit{}, false, fmt.Sprintf("cgroup v1 memory path %s is outside this cgroup namespace", rel)
	}
	for _, dir := range []string{path.Join(cgroupV1Mem, rel), cgroupV1Mem} {
		if _, err := fs.Stat(fsys, dir+"/memory.limit_in_bytes"); err != nil {
			continue
		}
		if n, ok := hierarchicalLimit(fsys, dir+"/memory.stat"); ok {
			return Limit{Bytes: n, Source: "/" + dir + "/memory.stat hierarchical_memory_limit"}, true, ""
		}
		n, ok, err := readLimitFile(fsys, dir+"/memory.limit_in_bytes")
		if err != nil || !ok {
			return Limit{}, false, fmt.Sprintf("cgroup v1: cannot read /%s/memory.limit_in_bytes: %v", dir, err)
		}
		return Limit{Bytes: n, Source: "/" + dir + "/memory.limit_in_bytes"}, true, ""
	}
	return Limit{}, false, fmt.Sprintf("cgroup v1: no memory.limit_in_bytes in /%s or /%s", path.Join(cgroupV1Mem, rel), cgroupV1Mem)
}

// readLimitFile reads a one-number limit file; "max" means no limit (ok is
// false).
func readLimitFile(fsys fs.FS, file string) (n uint64, ok bool, err error) {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return 0, false, err
	}
	v := strings.TrimSpace(string(b))
	if v == "max" {
		return 0, false, nil
	}
	n, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("parse /%s: %w", file, err)
	}
	return n, true, nil
}

// hierarchicalLimit reads hierarchical_memory_limit from a v1 memory.stat.
func hierarchicalLimit(fsys fs.FS, file string) (uint64, bool) {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "hierarchical_memory_limit "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
