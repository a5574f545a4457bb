package stress

import (
	"strings"
	"testing"
	"testing/fstest"
)

const meminfo4GiB = "MemTotal:        4194304 kB\nMemFree:         1000000 kB\n"

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestReadMemoryLimit(t *testing.T) {
	const (
		v2Cgroup = "0::/kubepods/pod1/ctr\n"
		v1Cgroup = "5:devices:/\n4:memory:/kubepods/pod1/ctr\n3:cpu,cpuacct:/\n0::/\n"
	)
	cases := []struct {
		name       string
		fsys       fstest.MapFS
		want       uint64
		wantSource string
	}{{
		name: "cgroup v2: smallest memory.max on the way up",
		fsys: fstest.MapFS{
			"proc/meminfo":                                   file(meminfo4GiB),
			"proc/self/cgroup":                               file(v2Cgroup),
			"sys/fs/cgroup/cgroup.controllers":               file("cpu memory\n"),
			"sys/fs/cgroup/kubepods/memory.max":              file("3221225472\n"),
			"sys/fs/cgroup/kubepods/pod1/memory.max":         file("1073741824\n"),
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.max":     file("max\n"),
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.current": file("0\n"),
		},
		want:       1 << 30,
		wantSource: "/sys/fs/cgroup/kubepods/pod1/memory.max",
	}, {
		name: "cgroup v2 inside a container: own cgroup at the mount root",
		fsys: fstest.MapFS{
			"proc/meminfo":                     file(meminfo4GiB),
			"proc/self/cgroup":                 file("0::/\n"),
			"sys/fs/cgroup/cgroup.controllers": file("memory\n"),
			"sys/fs/cgroup/memory.max":         file("268435456\n"),
		},
		want:       256 << 20,
		wantSource: "/sys/fs/cgroup/memory.max",
	}, {
		name: "cgroup v2 unlimited: MemTotal",
		fsys: fstest.MapFS{
			"proc/meminfo":                               file(meminfo4GiB),
			"proc/self/cgroup":                           file(v2Cgroup),
			"sys/fs/cgroup/cgroup.controllers":           file("memory\n"),
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.max": file("max\n"),
		},
		want:       4 << 30,
		wantSource: "/proc/meminfo MemTotal (cgroup v2: memory.max is max",
	}, {
		name: "cgroup v2 path outside the cgroup namespace: MemTotal, and says why",
		fsys: fstest.MapFS{
			"proc/meminfo":                     file(meminfo4GiB),
			"proc/self/cgroup":                 file("0::/../../kubepods/pod2/ctr\n"),
			"sys/fs/cgroup/cgroup.controllers": file("memory\n"),
			"sys/fs/cgroup/memory.max":         file("104857600\n"), // the namespace root's, not ours
		},
		want:       4 << 30,
		wantSource: "outside this cgroup namespace",
	}, {
		name: "cgroup v1: hierarchical_memory_limit",
		fsys: fstest.MapFS{
			"proc/meminfo":     file(meminfo4GiB),
			"proc/self/cgroup": file(v1Cgroup),
			"sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.limit_in_bytes": file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.stat":           file("cache 0\nhierarchical_memory_limit 536870912\n"),
		},
		want:       512 << 20,
		wantSource: "/sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.stat hierarchical_memory_limit",
	}, {
		name: "cgroup v1 without memory.stat: memory.limit_in_bytes",
		fsys: fstest.MapFS{
			"proc/meminfo":     file(meminfo4GiB),
			"proc/self/cgroup": file(v1Cgroup),
			"sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.limit_in_bytes": file("536870912\n"),
		},
		want:       512 << 20,
		wantSource: "/sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.limit_in_bytes",
	}, {
		name: "cgroup v1 in a container: cgroup not under the mount, use the mount root",
		fsys: fstest.MapFS{
			"proc/meminfo":     file(meminfo4GiB),
			"proc/self/cgroup": file(v1Cgroup),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("134217728\n"),
		},
		want:       128 << 20,
		wantSource: "/sys/fs/cgroup/memory/memory.limit_in_bytes",
	}, {
		name: "cgroup v1 unlimited: MemTotal",
		fsys: fstest.MapFS{
			"proc/meminfo":     file(meminfo4GiB),
			"proc/self/cgroup": file(v1Cgroup),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
		},
		want:       4 << 30,
		wantSource: "/proc/meminfo MemTotal (/sys/fs/cgroup/memory/memory.limit_in_bytes is 9223372036854771712, not below MemTotal)",
	}, {
		name:       "no cgroup files at all: MemTotal",
		fsys:       fstest.MapFS{"proc/meminfo": file(meminfo4GiB)},
		want:       4 << 30,
		wantSource: "/proc/meminfo MemTotal (cannot read /proc/self/cgroup",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadMemoryLimit(tc.fsys)
			if err != nil {
				t.Fatalf("ReadMemoryLimit: %v", err)
			}
			if got.Bytes != tc.want || !strings.Contains(got.Source, tc.wantSource) {
				t.Errorf("ReadMemoryLimit = %d from %q; want %d from a source containing %q", got.Bytes, got.Source, tc.want, tc.wantSource)
			}
		})
	}
}

func TestReadMemoryLimitNeedsMeminfo(t *testing.T) {
	_, err := ReadMemoryLimit(fstest.MapFS{"proc/meminfo": file("MemFree: 1 kB\n")})
	if err == nil || !strings.Contains(err.Error(), "MemTotal") {
		t.Errorf("ReadMemoryLimit without MemTotal: err = %v, want one naming MemTotal", err)
	}
}

// TestHostMemoryLimit reads this machine's real files: it must work on
// whatever cgroup layout the host has, and never exceed MemTotal.
func TestHostMemoryLimit(t *testing.T) {
	l, err := HostMemoryLimit()
	if err != nil {
		t.Fatalf("HostMemoryLimit: %v", err)
	}
	if l.Bytes == 0 || l.Source == "" {
		t.Errorf("HostMemoryLimit = %+v, want a positive limit and its source", l)
	}
	t.Logf("this host: %s from %s", FormatBytes(l.Bytes), l.Source)
}
