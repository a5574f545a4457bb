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
//  2. pitfall: the image filesystem also holds the containers' writable
//     layers. On one worker, containerd's root is moved onto a tmpfs of its
//     own (kubelet and containerd stopped, the root copied, the tmpfs bound
//     over it, both started: a small dedicated image filesystem, and
//     nothing the kubelet deletes there touches the real root); the images
//     no container uses are removed from the copy, so the kubelet's image
//     GC has nothing it could free; the kubelet gets imagefs.available <
//     Threshold with Headroom free (the control: no DiskPressure for
//     quietFor). An app writes Fill of scratch data into its container
//     filesystem: imageFs usedBytes grows by Fill with no image added, the
//     worker reports DiskPressure, the kubelet's journal shows it tried
//     image GC first and then had to evict, the app is evicted for
//     ephemeral-storage, the image count is unchanged, and the pressure
//     clears.
//  3. fix: the same app writes the same Fill into an emptyDir (the node
//     filesystem, capped by sizeLimit): imageFs usedBytes does not move, no
//     DiskPressure for quietFor, the app keeps running.
//  4. cleanup puts the worker back: pods deleted, kubelet config restored
//     (checked in /configz), the original containerd root back (the tmpfs
//     unmounted, both restarted), and no sandbox of the scenario left in
//     containerd (checked with the containerd client).
//
// Host requirements: node access (kind node containers through Docker, or
// node agent pods) and containerd with socat on the nodes for the check;
// the pitfall and fix also stop the worker's kubelet (so they need its node
// container through this host's Docker engine), need the size of its
// containerd root + Headroom + 1 GiB of free host memory for the tmpfs,
// and consent on clusters nodelab did not create. Typical: ~3m (four
// kubelet restarts).
package imagefsstats

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"time"

	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/noderuntime"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "imagefs-stats",
		Summary:  "the summary API's imageFs: usedBytes is the runtime's snapshotter usage (CRI ImageFsInfo = containerd's snapshots), capacity and available are a statfs of the whole filesystem that holds it",
		Labels:   []scenarios.Label{scenarios.Slow, scenarios.Disruptive},
		Needs:    []scenarios.Need{scenarios.NodeAccess},
		Requires: []string{"node access", "containerd and socat on the nodes", "pitfall and fix: the worker's node container through this host's Docker engine, its containerd root's size + 1.5 GiB of free host memory"},
		Typical:  3 * time.Minute,
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Check, Name: "on every node, imageFs usedBytes = CRI ImageFsInfo = containerd's snapshots; capacity, available and inodes = statfs of its filesystem", Timeout: Timeouts.Compare, Typical: 6 * time.Second, Run: r.CompareEveryNode},
				{Side: scenarios.Pitfall, Name: "pitfall: an app's scratch data in its container filesystem fires imagefs.available; image GC has nothing to free; the app is evicted", Timeout: Timeouts.Pitfall, Typical: 90 * time.Second, Run: r.PitfallContainerWrites},
				{Side: scenarios.Fix, Name: "fix: the same data in an emptyDir leaves imageFs as it was; no DiskPressure", Timeout: Timeouts.Fix, Typical: 31 * time.Second, Run: r.FixEmptyDir},
			},
			Cleanup:    scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
			LeakChecks: []scenarios.Step{{Side: scenarios.Check, Name: "leaves the worker's containerd root as it was: no tmpfs, no staging mount, no task containerd does not know", Timeout: Timeouts.LeftNothing, Run: r.LeftNothing}},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env scenarios.Env
	Lab *lab.Lab
	// Namespace and Node (the worker) are set by the pitfall.
	Namespace string
	Node      string

	node           nodeexec.Node
	dedicated      *dedicatedFs
	restoreKubelet func(context.Context) error
	// notApplicable is the pitfall's skip, which the fix repeats.
	notApplicable error
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
		r.env.Logf("%s: imageFs %s (%s): used %s = CRI = %d snapshots; capacity %s, available %s = statfs; inodes %d used, %d free of %d; capacity − available − used (everything else on that filesystem, and its reserved blocks): %s (reading %d, summary took %s)",
			rd.Node, rd.CRI.Mountpoint, rd.After.Type, mib(val(s.UsedBytes)), rd.Snapshots.Snapshots, mib(val(s.CapacityBytes)), mib(val(s.AvailableBytes)),
			val(s.InodesUsed), val(s.InodesFree), val(s.Inodes), mib(other), tries, rd.SummaryTook.Round(time.Millisecond))
		r.env.Measure(rd.Node+" imageFs used / capacity", fmt.Sprintf("%s / %s (%.1f%%), while imagefs.available, what eviction thresholds see, is %.1f%% of capacity",
			mib(val(s.UsedBytes)), mib(val(s.CapacityBytes)), pct(val(s.UsedBytes), val(s.CapacityBytes)), pct(val(s.AvailableBytes), val(s.CapacityBytes))))
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

// Cleanup restores the kubelet's config, deletes the pods, removes from
// the copy whatever container of theirs is left, and puts the worker's
// original containerd root back.
func (r *Runbook) Cleanup(ctx context.Context) error {
	var errs []error
	if r.restoreKubelet != nil {
		if err := r.restoreKubelet(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if r.Namespace != "" {
		if err := r.Lab.DeleteNamespace(ctx, r.Namespace, r.env.T().Cleanup); err != nil {
			errs = append(errs, err)
		}
	}
	if r.dedicated != nil && r.dedicated.moved {
		// The scenario's containers exist only in the copy: none may run
		// once the original root is back, where containerd does not know
		// them. Exited ones the kubelet's GC has not taken yet go too.
		if err := r.removeLeftContainers(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.dedicated.undo(ctx); err != nil {
		errs = append(errs, err)
	}
	if r.dedicated != nil && len(errs) == 0 {
		if err := r.Lab.WaitNodesReady(ctx, 0, r.env.T().NodeReady); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Runbook) removeLeftContainers(ctx context.Context) error {
	rt, err := noderuntime.Dial(ctx, r.node, "")
	if err != nil {
		return err
	}
	defer func() { _ = rt.Close() }()
	ids, err := rt.PodContainers(ctx, r.Namespace)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := rt.RemoveContainer(ctx, id); err != nil {
			return err
		}
	}
	if len(ids) > 0 {
		r.env.Logf("removed %d containers of %s from the copy that the kubelet had not removed yet", len(ids), r.Namespace)
	}
	return nil
}

// taskDir is where containerd's runc shims keep the state of each task of
// the k8s.io namespace.
const taskDir = "/run/containerd/io.containerd.runtime.v2.task/k8s.io"

// LeftNothing checks the worker's containerd root is its own filesystem
// again, no staging mount is left, and every task on the node belongs to a
// container containerd knows (a container started on the copy and still
// running would not).
func (r *Runbook) LeftNothing(ctx context.Context) error {
	if r.node == nil {
		return nil
	}
	st, err := nodeexec.StatfsOf(ctx, r.node, ContainerdRoot)
	if err != nil {
		return err
	}
	if st.Type == "tmpfs" {
		return fmt.Errorf("%s on %s is still a tmpfs", ContainerdRoot, r.Node)
	}
	out, err := nodeexec.Run(ctx, r.node, "sh", "-c", `[ ! -e "$1" ] || echo "$1"; [ ! -e "$2" ] || echo "$2"; ls -1 "$3" 2>/dev/null | sed 's/^/task /'`, "sh", stagingDir, lockFile, taskDir)
	if err != nil {
		return err
	}
	rt, err := noderuntime.Dial(ctx, r.node, "")
	if err != nil {
		return err
	}
	defer func() { _ = rt.Close() }()
	cs, err := rt.Containerd.Containers(rt.Namespaced(ctx))
	if err != nil {
		return fmt.Errorf("list containers on %s: %w", r.Node, err)
	}
	known := map[string]bool{}
	for _, c := range cs {
		known[c.ID()] = true
	}
	var left []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if id, ok := strings.CutPrefix(line, "task "); ok {
			if !known[id] {
				left = append(left, "a task containerd does not know: "+taskDir+"/"+id)
			}
		} else if line != "" {
			left = append(left, line)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("left on %s: %s", r.Node, strings.Join(left, ", "))
	}
	return nil
}
