package nodeexec

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadFixture(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "memory.") {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = data
		}
	}
	return files
}

func TestParseMemoryStatsFixtures(t *testing.T) {
	for _, c := range []struct {
		dir   string
		parse func(map[string][]byte) (MemoryStats, error)
		want  MemoryStats
	}{
		{
			dir: "testdata/cgroupv1/oom-killed", parse: ParseMemoryStatsV1,
			want: MemoryStats{Version: CgroupV1, Usage: 39051264, InactiveFile: 4096, WorkingSet: 39047168,
				Limit: 100663296, OOMKills: 1},
		},
		{
			dir: "testdata/cgroupv1/unlimited-page-cache", parse: ParseMemoryStatsV1,
			want: MemoryStats{Version: CgroupV1, Usage: 69427200, InactiveFile: 21999616, WorkingSet: 47427584,
				Unlimited: true},
		},
		{
			dir: "testdata/cgroupv2/limited-oom-killed", parse: ParseMemoryStatsV2,
			want: MemoryStats{Version: CgroupV2, Usage: 133693440, InactiveFile: 3145728, WorkingSet: 130547712,
				Limit: 134217728, OOMKills: 2, OOMEvents: 2},
		},
		{
			dir: "testdata/cgroupv2/unlimited-page-cache", parse: ParseMemoryStatsV2,
			want: MemoryStats{Version: CgroupV2, Usage: 566231040, InactiveFile: 419430400, WorkingSet: 146800640,
				Unlimited: true},
		},
	} {
		t.Run(c.dir, func(t *testing.T) {
			got, err := c.parse(loadFixture(t, c.dir))
			if err != nil {
				t.Fatal(err)
			}
			c.want.Files = MemoryFiles(c.want.Version)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestWorkingSetFloorsAtZero(t *testing.T) {
	// inactive_file can briefly exceed usage (they are sampled apart).
	m, err := ParseMemoryStatsV2(map[string][]byte{
		"memory.current": []byte("1000\n"),
		"memory.stat":    []byte("anon 10\ninactive_file 4096\n"),
		"memory.max":     []byte("max\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.WorkingSet != 0 || m.InactiveFile != 4096 || m.OOMKills != 0 {
		t.Errorf("got %+v, want working set 0", m)
	}
	if !reflect.DeepEqual(m.Files, []string{"memory.current", "memory.stat", "memory.max"}) {
		t.Errorf("Files = %v: memory.events was not read", m.Files)
	}
}

func TestV1WithoutOOMKillLine(t *testing.T) {
	// Kernels before 4.13 have no oom_kill line in memory.oom_control.
	m, err := ParseMemoryStatsV1(map[string][]byte{
		"memory.usage_in_bytes": []byte("4096\n"),
		"memory.stat":           []byte("total_inactive_file 0\n"),
		"memory.limit_in_bytes": []byte("9223372036854710272\n"), // 64 KiB pages
		"memory.oom_control":    []byte("oom_kill_disable 0\nunder_oom 0\n"),
	})
	if err != nil || !m.Unlimited || m.OOMKills != 0 {
		t.Errorf("got %+v, %v", m, err)
	}
}

func TestParseMemoryStatsReportsEveryProblem(t *testing.T) {
	_, err := ParseMemoryStatsV1(map[string][]byte{
		"memory.stat":           []byte("inactive_file 10\n"), // no total_ line
		"memory.limit_in_bytes": []byte("lots\n"),
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"cgroup v1", "memory.usage_in_bytes: missing", "memory.stat: no total_inactive_file line", `memory.limit_in_bytes: "lots" is not a byte count`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	_, err = ParseMemoryStatsV2(map[string][]byte{
		"memory.current": []byte("1\n"), "memory.stat": []byte("inactive_file x\n"), "memory.max": []byte("max\n"),
		"memory.events": []byte("low 0\n"),
	})
	for _, want := range []string{`inactive_file "x" is not a number`, "memory.events: no oom_kill line"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("v2 error %v does not mention %q", err, want)
		}
	}
}

func TestMemoryStatsString(t *testing.T) {
	m := MemoryStats{Version: CgroupV2, Dir: "/sys/fs/cgroup/x", Usage: 3 << 20, WorkingSet: 2 << 20, InactiveFile: 1 << 20, Unlimited: true, Files: []string{"memory.current", "memory.stat"}}
	want := "cgroup v2 /sys/fs/cgroup/x: usage 3.0MiB, working set 2.0MiB (inactive_file 1.0MiB), limit unlimited, oom_kill 0 (from memory.current, memory.stat)"
	if got := m.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

// TestReadMemoryStatsOnThisHost reads this test process's own memory cgroup
// through the same commands a kind node runs.
func TestReadMemoryStatsOnThisHost(t *testing.T) {
	ctx := context.Background()
	v, err := DetectCgroupVersion(ctx, localNode{})
	if err != nil {
		t.Skipf("cannot detect the host's cgroup version: %v", err)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no /proc/self/cgroup: %v", err)
	}
	var cgroupPath string
	for _, line := range strings.Split(string(self), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && ((v == CgroupV1 && parts[1] == "memory") || (v == CgroupV2 && parts[0] == "0")) {
			cgroupPath = parts[2]
		}
	}
	if cgroupPath == "" || (v == CgroupV2 && cgroupPath == "/") {
		t.Skipf("%s: no memory cgroup of our own to read in /proc/self/cgroup", v)
	}
	dir := MemoryCgroupDir(v, cgroupPath)
	m, err := ReadMemoryStats(ctx, localNode{}, v, dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Usage == 0 || m.WorkingSet > m.Usage || m.Dir != dir || len(m.Files) < 3 {
		t.Errorf("implausible reading of our own cgroup: %s", m)
	}
	t.Log(m)
}
