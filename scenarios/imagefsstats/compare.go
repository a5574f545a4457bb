package imagefsstats

import (
	"context"
	"fmt"
	"time"

	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/noderuntime"
)

// reading is one node's imageFs seen three ways, read in this order:
// statfs, the summary API, statfs again, the CRI, the snapshotter.
type reading struct {
	Node string
	// Summary is the kubelet's imageFs.
	Summary kubelet.FsStats
	// CRI is the runtime's ImageFsInfo answer (the first image fs).
	CRI noderuntime.FsUsage
	// Snapshots sums containerd's Usage over every snapshot of the CRI's
	// snapshotter.
	Snapshots noderuntime.SnapshotUsage
	// Before and After are statfs of the mountpoint's filesystem, read
	// just before and just after the summary.
	Before, After nodeexec.Statfs
	// SummaryTook is how long the summary request took.
	SummaryTook time.Duration
}

// read takes one reading of node. The snapshotter name is the last part of
// the CRI's mountpoint (io.containerd.snapshotter.v1.<name>).
func read(ctx context.Context, r *Runbook, node nodeexec.Node, rt *noderuntime.Client) (reading, error) {
	out := reading{Node: node.String()}
	fss, err := rt.ImageFs(ctx)
	if err != nil {
		return out, err
	}
	mount := fss[0].Mountpoint
	if out.Before, err = nodeexec.StatfsOf(ctx, node, mount); err != nil {
		return out, err
	}
	start := time.Now()
	s, err := kubelet.ReadSummary(ctx, r.Lab.Client, node.String())
	if err != nil {
		return out, err
	}
	out.SummaryTook = time.Since(start)
	if out.After, err = nodeexec.StatfsOf(ctx, node, mount); err != nil {
		return out, err
	}
	if s.Node.Runtime == nil || s.Node.Runtime.ImageFs == nil {
		return out, fmt.Errorf("node %s: the summary API has no node.runtime.imageFs", node)
	}
	out.Summary = *s.Node.Runtime.ImageFs
	if fss, err = rt.ImageFs(ctx); err != nil {
		return out, err
	}
	out.CRI = fss[0]
	if out.Snapshots, err = rt.SnapshotUsage(ctx, snapshotterOf(mount)); err != nil {
		return out, err
	}
	return out, nil
}

// snapshotterOf returns the snapshotter of a CRI image fs mountpoint
// (".../io.containerd.snapshotter.v1.overlayfs" → "overlayfs").
func snapshotterOf(mountpoint string) string {
	const prefix = "io.containerd.snapshotter.v1."
	for i := len(mountpoint) - 1; i >= 0; i-- {
		if mountpoint[i] == '/' {
			base := mountpoint[i+1:]
			if len(base) > len(prefix) && base[:len(prefix)] == prefix {
				return base[len(prefix):]
			}
			break
		}
	}
	return "overlayfs"
}

func val(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// mismatches lists what does not hold in a reading; tolerance bounds
// availableBytes and inodesFree against the two statfs around the summary;
// the CRI's cache is held to the live snapshot sum within
// snapshotTolerance.
func (rd reading) mismatches(tolerance uint64) []string {
	var bad []string
	s := rd.Summary
	if s.UsedBytes == nil || val(s.UsedBytes) != rd.CRI.UsedBytes {
		bad = append(bad, fmt.Sprintf("usedBytes %d, CRI ImageFsInfo %d", val(s.UsedBytes), rd.CRI.UsedBytes))
	}
	if s.InodesUsed == nil || val(s.InodesUsed) != rd.CRI.InodesUsed {
		bad = append(bad, fmt.Sprintf("inodesUsed %d, CRI %d", val(s.InodesUsed), rd.CRI.InodesUsed))
	}
	if !between(rd.CRI.UsedBytes, rd.Snapshots.Bytes, rd.Snapshots.Bytes, snapshotTolerance) || !between(rd.CRI.InodesUsed, rd.Snapshots.Inodes, rd.Snapshots.Inodes, inodeTolerance) {
		bad = append(bad, fmt.Sprintf("CRI %d bytes / %d inodes, containerd's %d snapshots %d bytes / %d inodes", rd.CRI.UsedBytes, rd.CRI.InodesUsed, rd.Snapshots.Snapshots, rd.Snapshots.Bytes, rd.Snapshots.Inodes))
	}
	if val(s.CapacityBytes) != rd.Before.CapacityBytes || val(s.CapacityBytes) != rd.After.CapacityBytes {
		bad = append(bad, fmt.Sprintf("capacityBytes %d, statfs %d", val(s.CapacityBytes), rd.After.CapacityBytes))
	}
	if val(s.Inodes) != rd.After.Inodes {
		bad = append(bad, fmt.Sprintf("inodes %d, statfs %d", val(s.Inodes), rd.After.Inodes))
	}
	if !between(val(s.AvailableBytes), rd.Before.AvailableBytes, rd.After.AvailableBytes, tolerance) {
		bad = append(bad, fmt.Sprintf("availableBytes %d, statfs %d before and %d after (±%d)", val(s.AvailableBytes), rd.Before.AvailableBytes, rd.After.AvailableBytes, tolerance))
	}
	if !between(val(s.InodesFree), rd.Before.InodesFree, rd.After.InodesFree, tolerance/4096) {
		bad = append(bad, fmt.Sprintf("inodesFree %d, statfs %d before and %d after", val(s.InodesFree), rd.Before.InodesFree, rd.After.InodesFree))
	}
	return bad
}

// between says whether v lies within [min(a,b)-tol, max(a,b)+tol].
func between(v, a, b, tol uint64) bool {
	lo, hi := min(a, b), max(a, b)
	if lo > tol {
		lo -= tol
	} else {
		lo = 0
	}
	return v >= lo && v <= hi+tol
}
