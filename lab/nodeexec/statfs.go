package nodeexec

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Statfs is a statfs(2) of a filesystem inside a node, in the units the
// kubelet's cadvisor reports: bytes are blocks × the fundamental block size
// (f_frsize), as cadvisor's vfs stats compute them.
type Statfs struct {
	Path string
	// Type is the filesystem type as stat -f names it (ext2/ext3, tmpfs,
	// overlayfs, ...).
	Type           string
	CapacityBytes  uint64
	FreeBytes      uint64
	AvailableBytes uint64
	Inodes         uint64
	InodesFree     uint64
}

// StatfsOf reads the statfs of the filesystem holding path on node (GNU
// stat -f, in every kind node image).
func StatfsOf(ctx context.Context, node Node, path string) (Statfs, error) {
	out, err := Run(ctx, node, "stat", "-f", "-c", "%S %b %f %a %c %d %T", path)
	if err != nil {
		return Statfs{}, err
	}
	s, err := ParseStatfs(out)
	if err != nil {
		return Statfs{}, fmt.Errorf("statfs %s on node %s: %w", path, node, err)
	}
	s.Path = path
	return s, nil
}

// ParseStatfs reads the output of stat -f -c '%S %b %f %a %c %d %T'.
func ParseStatfs(out string) (Statfs, error) {
	f := strings.Fields(out)
	if len(f) < 7 {
		return Statfs{}, fmt.Errorf("want 7 fields from stat -f, got %q", strings.TrimSpace(out))
	}
	var n [6]uint64
	for i := range n {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return Statfs{}, fmt.Errorf("field %d of stat -f %q: %w", i+1, strings.TrimSpace(out), err)
		}
		n[i] = v
	}
	return Statfs{
		Type:          strings.Join(f[6:], " "),
		CapacityBytes: n[0] * n[1], FreeBytes: n[0] * n[2], AvailableBytes: n[0] * n[3],
		Inodes: n[4], InodesFree: n[5],
	}, nil
}
