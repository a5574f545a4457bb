package nodeexec

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// CgroupVersion is the cgroup hierarchy a node runs on: the host's, since a
// kind node shares the host kernel.
type CgroupVersion int

const (
	// CgroupV1 is the legacy hierarchy, one tree per controller under
	// /sys/fs/cgroup/<controller>.
	CgroupV1 CgroupVersion = 1
	// CgroupV2 is the unified hierarchy mounted at /sys/fs/cgroup.
	CgroupV2 CgroupVersion = 2
)

// String returns "cgroup v1" or "cgroup v2".
func (v CgroupVersion) String() string {
	switch v {
	case CgroupV1, CgroupV2:
		return fmt.Sprintf("cgroup v%d", int(v))
	}
	return fmt.Sprintf("cgroup version %d (unknown)", int(v))
}

// CgroupMount is where the cgroup filesystem is mounted in a node.
const CgroupMount = "/sys/fs/cgroup"

// DetectCgroupVersion tells which cgroup hierarchy the node sees, from the
// type of the filesystem mounted at /sys/fs/cgroup.
func DetectCgroupVersion(ctx context.Context, node Node) (CgroupVersion, error) {
	out, err := Run(ctx, node, "stat", "-f", "-c", "%T", CgroupMount)
	if err != nil {
		return 0, fmt.Errorf("detect cgroup version: %w", err)
	}
	v, err := ParseCgroupFSType(out)
	if err != nil {
		return 0, fmt.Errorf("detect cgroup version on node %s: %w", node, err)
	}
	return v, nil
}

// ParseCgroupFSType maps the output of `stat -f -c %T /sys/fs/cgroup` to a
// cgroup version: cgroup2fs is v2; tmpfs (holding one mount per
// controller) is v1.
func ParseCgroupFSType(out string) (CgroupVersion, error) {
	switch t := strings.TrimSpace(out); t {
	case "cgroup2fs", "cgroup2":
		return CgroupV2, nil
	case "tmpfs":
		return CgroupV1, nil
	default:
		return 0, fmt.Errorf("%s is a %q filesystem, neither cgroup2fs (v2) nor tmpfs (v1); is the cgroup filesystem mounted?", CgroupMount, t)
	}
}

// MemoryCgroupDir is the directory holding the memory controller's files
// for the cgroup at cgroupPath (as in /proc/<pid>/cgroup, "/kubelet.slice/...").
func MemoryCgroupDir(v CgroupVersion, cgroupPath string) string {
	if v == CgroupV1 {
		return path.Join(CgroupMount, "memory", cgroupPath)
	}
	return path.Join(CgroupMount, cgroupPath)
}
