// Package imagefsstats is the runbook of scenario `imagefs-stats`: what the
// kubelet's summary API reports as imageFs, and where each number comes
// from.
//
// Seed: `kubectl get --raw /api/v1/nodes/<node>/proxy/stats/summary` shows
// imageFs availableBytes, capacityBytes, usedBytes and inodesFree. The
// kubelet does not compute them: it asks the runtime over CRI ImageFsInfo,
// which returns usedBytes, inodesUsed and an fsId.mountpoint (containerd:
// /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs); capacity,
// available and inodes come from cadvisor's statfs of the filesystem that
// holds that mountpoint. So usedBytes is the snapshotter's usage while
// capacity and available are the whole filesystem's.
//
// Steps, top to bottom:
//  1. check, on every node: the summary's imageFs usedBytes and inodesUsed
//     equal the CRI's ImageFsInfo, which equals the sum of containerd's
//     snapshot Usage over every snapshot of the snapshotter (the containerd
//     client; the CRI refreshes that sum every 10 s, so a reading is
//     retried until a refresh is not in between); capacityBytes and inodes
//     equal a statfs of the mountpoint's filesystem inside the node
//     (f_frsize × blocks, as cadvisor computes it), and availableBytes and
//     inodesFree lie between two statfs read just before and just after
//     the summary, within availableTolerance (the filesystem is the host's,
//     written to by others meanwhile). usedBytes + availableBytes is not
//     capacityBytes: the gap is everything on that filesystem that is not
//     the snapshotter's, reported per node.
//
// Host requirements: node access (kind node containers through Docker, or
// node agent pods); containerd with socat on the nodes. Typical: ~5s.
package imagefsstats

import (
	"context"
	"fmt"

	"time"

	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/noderuntime"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "imagefs-stats",
		Summary:  "the summary API's imageFs: usedBytes is the runtime's snapshotter usage (CRI ImageFsInfo = containerd's snapshots), capacity and available are a statfs of the whole filesystem that holds it",
		Needs:    []scenarios.Need{scenarios.NodeAccess},
		Requires: []string{"node access", "containerd and socat on the nodes"},
		Typical:  5 * time.Second,
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Check, Name: "on every node, imageFs usedBytes = CRI ImageFsInfo = containerd's snapshots; capacity, available and inodes = statfs of its filesystem", Timeout: Timeouts.Compare, Run: r.CompareEveryNode},
			},
			Cleanup: scenarios.Step{Name: "cleanup", Timeout: Timeouts.Compare, Run: func(context.Context) error { return nil }},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env scenarios.Env
	Lab *lab.Lab
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook { return &Runbook{env: env, Lab: env.Lab} }

// CompareEveryNode compares the three views of imageFs on every node.
func (r *Runbook) CompareEveryNode(ctx context.Context) error {
	nodes, err := r.Lab.Nodes()
	if err != nil {
		return err
	}
	for _, node := range nodes {
		rt, err := noderuntime.Dial(ctx, node, "")
		if err != nil {
			return err
		}
		var rd reading
		tries := 0
		err = wait.Until(ctx, wait.Within{What: "node " + node.String() + "'s imageFs: summary, CRI, snapshotter and statfs agreeing", Timeout: r.env.Scaled(Timeouts.Agree), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
			tries++
			got, err := read(ctx, r, node, rt)
			g.Expect(err).NotTo(gomega.HaveOccurred())
			rd = got
			g.Expect(rd.mismatches(availableTolerance)).To(gomega.BeEmpty(), "last reading of %s", node)
		})
		_ = rt.Close()
		if err != nil {
			return err
		}
		s := rd.Summary
		other := val(s.CapacityBytes) - val(s.AvailableBytes) - val(s.UsedBytes)
		r.env.Logf("%s: imageFs %s (%s): used %s = CRI = %d snapshots; capacity %s, available %s = statfs; inodes %d used, %d free of %d; not the snapshotter's on that filesystem: %s (reading %d, summary took %s)",
			rd.Node, rd.CRI.Mountpoint, rd.After.Type, mib(val(s.UsedBytes)), rd.Snapshots.Snapshots, mib(val(s.CapacityBytes)), mib(val(s.AvailableBytes)),
			val(s.InodesUsed), val(s.InodesFree), val(s.Inodes), mib(other), tries, rd.SummaryTook.Round(time.Millisecond))
		r.env.Measure(rd.Node+" imageFs used / capacity", fmt.Sprintf("%s / %s (%.1f%%; the filesystem is %.1f%% full)", mib(val(s.UsedBytes)), mib(val(s.CapacityBytes)),
			pct(val(s.UsedBytes), val(s.CapacityBytes)), pct(val(s.CapacityBytes)-val(s.AvailableBytes), val(s.CapacityBytes))))
	}
	return nil
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func pct(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
