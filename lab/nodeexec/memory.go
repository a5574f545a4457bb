package nodeexec

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// MemoryStats is one reading of a cgroup's memory controller, normalised
// across cgroup v1 and v2, with the files it came from.
type MemoryStats struct {
	// Version is the hierarchy the numbers were read from.
	Version CgroupVersion
	// Dir is the cgroup directory read; empty when parsed from a map.
	Dir string
	// Usage is memory.usage_in_bytes (v1) or memory.current (v2), bytes.
	Usage uint64
	// InactiveFile is total_inactive_file (v1, hierarchical) or
	// inactive_file (v2) from memory.stat: page cache the kernel can
	// reclaim first.
	InactiveFile uint64
	// WorkingSet is Usage minus InactiveFile, floored at zero: cAdvisor's
	// formula, and the number the kubelet compares with eviction
	// thresholds and shows in `kubectl top`.
	WorkingSet uint64
	// Limit is memory.limit_in_bytes (v1) or memory.max (v2), bytes; 0
	// when Unlimited.
	Limit uint64
	// Unlimited is true when the cgroup has no memory limit ("max" in v2,
	// the page-rounded maximum int64 in v1).
	Unlimited bool
	// OOMKills counts processes the OOM killer killed in this cgroup
	// (oom_kill in memory.oom_control (v1, kernel ≥ 4.13) or memory.events
	// (v2)).
	OOMKills uint64
	// OOMEvents counts the times the cgroup hit its limit and an
	// allocation was about to fail (oom in memory.events); v2 only, 0 on v1.
	OOMEvents uint64
	// Files names the files read, in the order read.
	Files []string
}

// String summarises the reading and its sources for logs and errors.
func (m MemoryStats) String() string {
	limit := "unlimited"
	if !m.Unlimited {
		limit = mib(m.Limit)
	}
	where := m.Version.String()
	if m.Dir != "" {
		where += " " + m.Dir
	}
	return fmt.Sprintf("%s: usage %s, working set %s (inactive_file %s), limit %s, oom_kill %d (from %s)",
		where, mib(m.Usage), mib(m.WorkingSet), mib(m.InactiveFile), limit, m.OOMKills, strings.Join(m.Files, ", "))
}

func mib(b uint64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

// MemoryFiles lists the files ParseMemoryStatsV1 and ParseMemoryStatsV2 use,
// required ones first; the last one (OOM counters) may be missing.
func MemoryFiles(v CgroupVersion) []string {
	if v == CgroupV1 {
		return []string{"memory.usage_in_bytes", "memory.stat", "memory.limit_in_bytes", "memory.oom_control"}
	}
	return []string{"memory.current", "memory.stat", "memory.max", "memory.events"}
}

// v1Unlimited: an unlimited v1 cgroup reports PAGE_COUNTER_MAX pages in
// bytes (9223372036854771712 with 4 KiB pages, less with larger pages), so
// anything above 2^62 bytes means "no limit".
const v1Unlimited = uint64(1) << 62

// ParseMemoryStatsV1 computes MemoryStats from cgroup v1 memory controller
// files, keyed by file name (see MemoryFiles). All problems are reported.
func ParseMemoryStatsV1(files map[string][]byte) (MemoryStats, error) {
	m := MemoryStats{Version: CgroupV1}
	var errs []error
	m.Usage = readUint(files, "memory.usage_in_bytes", &m, &errs)
	m.InactiveFile = readKey(files, "memory.stat", "total_inactive_file", true, &m, &errs)
	if limit := readUint(files, "memory.limit_in_bytes", &m, &errs); limit >= v1Unlimited {
		m.Unlimited = true
	} else {
		m.Limit = limit
	}
	if _, ok := files["memory.oom_control"]; ok {
		m.OOMKills = readKey(files, "memory.oom_control", "oom_kill", false, &m, &errs)
	}
	return finish(m, errs)
}

// ParseMemoryStatsV2 computes MemoryStats from cgroup v2 memory controller
// files, keyed by file name (see MemoryFiles). All problems are reported.
func ParseMemoryStatsV2(files map[string][]byte) (MemoryStats, error) {
	m := MemoryStats{Version: CgroupV2}
	var errs []error
	m.Usage = readUint(files, "memory.current", &m, &errs)
	m.InactiveFile = readKey(files, "memory.stat", "inactive_file", true, &m, &errs)
	if data, ok := files["memory.max"]; ok && strings.TrimSpace(string(data)) == "max" {
		m.Unlimited = true
		m.Files = append(m.Files, "memory.max")
	} else {
		m.Limit = readUint(files, "memory.max", &m, &errs)
	}
	if _, ok := files["memory.events"]; ok {
		m.OOMKills = readKey(files, "memory.events", "oom_kill", true, &m, &errs)
		m.OOMEvents = readKey(files, "memory.events", "oom", true, &m, &errs)
	}
	return finish(m, errs)
}

func finish(m MemoryStats, errs []error) (MemoryStats, error) {
	if m.Usage > m.InactiveFile {
		m.WorkingSet = m.Usage - m.InactiveFile
	}
	if len(errs) > 0 {
		return m, fmt.Errorf("parse %s memory stats: %w", m.Version, errors.Join(errs...))
	}
	return m, nil
}

// readUint parses a file holding one number.
func readUint(files map[string][]byte, name string, m *MemoryStats, errs *[]error) uint64 {
	data, ok := files[name]
	if !ok {
		*errs = append(*errs, fmt.Errorf("%s: missing", name))
		return 0
	}
	noteFile(m, name)
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %q is not a byte count", name, strings.TrimSpace(string(data))))
	}
	return v
}

// readKey reads one key of a flat keyed file ("key value" lines, as in
// memory.stat and memory.events). A missing key is an error only if required.
func readKey(files map[string][]byte, name, key string, required bool, m *MemoryStats, errs *[]error) uint64 {
	data, ok := files[name]
	if !ok {
		*errs = append(*errs, fmt.Errorf("%s: missing", name))
		return 0
	}
	noteFile(m, name)
	for _, line := range strings.Split(string(data), "\n") {
		k, v, found := strings.Cut(strings.TrimSpace(line), " ")
		if !found || k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %s %q is not a number", name, key, v))
		}
		return n
	}
	if required {
		*errs = append(*errs, fmt.Errorf("%s: no %s line", name, key))
	}
	return 0
}

func noteFile(m *MemoryStats, name string) {
	for _, f := range m.Files {
		if f == name {
			return
		}
	}
	m.Files = append(m.Files, name)
}

// ReadMemoryStats reads the memory controller files of the cgroup directory
// dir inside the node (see MemoryCgroupDir and FindContainerCgroup) with
// one command, and parses them for cgroup version v.
func ReadMemoryStats(ctx context.Context, node Node, v CgroupVersion, dir string) (MemoryStats, error) {
	names := MemoryFiles(v)
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = path.Join(dir, n)
	}
	read, err := ReadFiles(ctx, node, paths...)
	if err != nil {
		return MemoryStats{}, fmt.Errorf("read memory stats: %w", err)
	}
	files := make(map[string][]byte, len(read))
	for i, p := range paths {
		if data, ok := read[p]; ok {
			files[names[i]] = data
		}
	}
	parse := ParseMemoryStatsV2
	if v == CgroupV1 {
		parse = ParseMemoryStatsV1
	}
	m, err := parse(files)
	m.Dir = dir
	if err != nil {
		return m, fmt.Errorf("read memory stats of %s on node %s (does the container still exist?): %w", dir, node, err)
	}
	return m, nil
}
