package nodeexec

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// CpusetFile is the file holding the CPUs a cgroup's tasks may run on:
// cpuset.cpus in v1's cpuset hierarchy (always set, inherited at creation),
// cpuset.cpus.effective in v2 (cpuset.cpus may be empty, meaning the
// parent's).
func CpusetFile(v CgroupVersion, cgroupPath string) string {
	if v == CgroupV1 {
		return path.Join(CgroupMount, "cpuset", cgroupPath, "cpuset.cpus")
	}
	return path.Join(CgroupMount, cgroupPath, "cpuset.cpus.effective")
}

// ContainerCpuset reads the CPUs a running container may use from its
// cgroup on the node (cgroup v1 or v2, either driver), e.g. "1" or "0-3".
func ContainerCpuset(ctx context.Context, node Node, c ContainerCgroup) (string, error) {
	dir, v, err := FindContainerCgroup(ctx, node, c)
	if err != nil {
		return "", err
	}
	cgroupPath := strings.TrimPrefix(dir, MemoryCgroupDir(v, "/"))
	file := CpusetFile(v, "/"+strings.TrimPrefix(cgroupPath, "/"))
	b, err := ReadFile(ctx, node, file)
	if err != nil {
		return "", fmt.Errorf("read the cpuset of container %s: %w", c.ContainerID, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// PodCpusets reads the cpuset of every container cgroup under the node's
// pods (every directory below a kubepods cgroup that is a container's:
// cri-containerd-*.scope, crio-*.scope, docker-*.scope, or a 64-hex-digit
// cgroupfs name), keyed by cgroup path. It is how a check sees that no
// container was left pinned to a subset of the node's CPUs.
func PodCpusets(ctx context.Context, node Node) (map[string]string, CgroupVersion, error) {
	v, err := DetectCgroupVersion(ctx, node)
	if err != nil {
		return nil, 0, err
	}
	root := CgroupMount
	name := "cpuset.cpus.effective"
	if v == CgroupV1 {
		root, name = path.Join(CgroupMount, "cpuset"), "cpuset.cpus"
	}
	// One line per container cgroup: "<dir> <cpus>".
	script := `find "$1" -path '*kubepods*' -name "$2" | while read -r f; do d=${f%/*}; case ${d##*/} in *.scope|????????????????????????????????????????????????????????????????) echo "$d $(cat "$f")";; esac; done`
	out, err := Run(ctx, node, "sh", "-c", script, "sh", root, name)
	if err != nil {
		return nil, v, fmt.Errorf("read the cpusets of the pods' containers on %s: %w", node, err)
	}
	sets := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		dir, cpus, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		sets[strings.TrimPrefix(dir, root)] = cpus
	}
	return sets, v, nil
}
