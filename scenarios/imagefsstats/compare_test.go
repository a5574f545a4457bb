package imagefsstats

import (
	"strings"
	"testing"

	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/noderuntime"
)

func u(v uint64) *uint64 { return &v }

func agreeing() reading {
	st := nodeexec.Statfs{CapacityBytes: 1000 << 20, AvailableBytes: 400 << 20, Inodes: 5000, InodesFree: 4000}
	after := st
	after.AvailableBytes -= 1 << 20
	return reading{
		Summary:   kubelet.FsStats{UsedBytes: u(100), InodesUsed: u(7), CapacityBytes: u(1000 << 20), AvailableBytes: u(399<<20 + 5), Inodes: u(5000), InodesFree: u(4000)},
		CRI:       noderuntime.FsUsage{UsedBytes: 100, InodesUsed: 7},
		Snapshots: noderuntime.SnapshotUsage{Snapshots: 3, Bytes: 100, Inodes: 7},
		Before:    st, After: after,
	}
}

func TestAgreeingReadingHasNoMismatch(t *testing.T) {
	if bad := agreeing().mismatches(0); len(bad) != 0 {
		t.Fatalf("mismatches = %v", bad)
	}
}

func TestEachDisagreementIsNamed(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*reading)
		want   string
	}{
		"summary used":   {func(r *reading) { r.Summary.UsedBytes = u(101) }, "usedBytes"},
		"snapshots":      {func(r *reading) { r.Snapshots.Bytes = 100 + snapshotTolerance + 1 }, "containerd's 3 snapshots"},
		"capacity":       {func(r *reading) { r.Summary.CapacityBytes = u(1) }, "capacityBytes"},
		"available":      {func(r *reading) { r.Summary.AvailableBytes = u(500 << 20) }, "availableBytes"},
		"missing used":   {func(r *reading) { r.Summary.UsedBytes = nil }, "usedBytes"},
		"inodes":         {func(r *reading) { r.Summary.Inodes = u(1) }, "inodes 1"},
		"inodesUsed CRI": {func(r *reading) { r.CRI.InodesUsed = 8 }, "inodesUsed"},
	} {
		r := agreeing()
		tc.mutate(&r)
		bad := r.mismatches(0)
		if len(bad) == 0 || !strings.Contains(strings.Join(bad, "; "), tc.want) {
			t.Errorf("%s: mismatches = %v, want one naming %q", name, bad, tc.want)
		}
	}
}

func TestTheCRIsCacheMayLagTheLiveSnapshotsByTheTolerance(t *testing.T) {
	r := agreeing()
	r.Snapshots.Bytes += snapshotTolerance
	if bad := r.mismatches(0); len(bad) != 0 {
		t.Fatalf("mismatches = %v for a lag within snapshotTolerance", bad)
	}
}

func TestSnapshotterOfTheCRIMountpoint(t *testing.T) {
	if got := snapshotterOf("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"); got != "overlayfs" {
		t.Errorf("snapshotterOf = %q", got)
	}
	if got := snapshotterOf("/var/lib/containerd/io.containerd.snapshotter.v1.native"); got != "native" {
		t.Errorf("snapshotterOf = %q", got)
	}
}
