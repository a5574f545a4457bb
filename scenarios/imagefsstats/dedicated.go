package imagefsstats

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/onsi/gomega"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/noderuntime"
	"github.com/nodelab/nodelab/lab/wait"
)

// ContainerdRoot is containerd's root on kind nodes: images, snapshots
// (and so the containers' writable layers) and its metadata.
const ContainerdRoot = "/var/lib/containerd"

// stagingDir is where the tmpfs is mounted while containerd's root is
// copied into it, before it is bound over ContainerdRoot.
const stagingDir = "/run/nodelab-imagefs"

// lockFile serialises the move and its undo on the node.
const lockFile = "/run/nodelab-imagefs.lock"

// dedicatedFs is a worker whose containerd root is a copy on a tmpfs of its
// own: a small image filesystem, apart from the kubelet's (the node's /var,
// the host's disk). Undo puts the original back: every change made while
// it was in place (images the kubelet deleted, containers) was made to the
// copy only.
type dedicatedFs struct {
	node nodeexec.Node
	// Size is the tmpfs size after the prune; Used what the copy holds.
	Size, Used uint64
	// Pruned are the images removed from the copy (no container used them).
	Pruned []string
	moved  bool
}

// moveRuntimeRoot stops the kubelet and containerd, copies containerd's
// root onto a tmpfs, binds it over the root, starts containerd, removes
// the images no container uses from the copy (so the kubelet's image GC
// has nothing it could free), resizes the tmpfs to what the copy holds
// plus headroom, and starts the kubelet.
func moveRuntimeRoot(ctx context.Context, node nodeexec.Node, headroom uint64, keep []string, dial func(context.Context) (*noderuntime.Client, error)) (*dedicatedFs, error) {
	d := &dedicatedFs{node: node}
	st, err := nodeexec.StatfsOf(ctx, node, ContainerdRoot)
	if err != nil {
		return nil, err
	}
	if st.Type == "tmpfs" {
		return nil, fmt.Errorf("%s on node %s is already a tmpfs (left by an interrupted run?): restart the node container (docker restart %s) or delete the lab", ContainerdRoot, node, node)
	}
	du, err := nodeexec.Run(ctx, node, "du", "-sb", ContainerdRoot)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(du)
	if len(f) == 0 {
		return nil, fmt.Errorf("du %s on node %s: %q", ContainerdRoot, node, du)
	}
	size, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("du %s on node %s: %w", ContainerdRoot, node, err)
	}
	// The copy first, with room for itself and the headroom.
	script := `set -e
exec 9>` + lockFile + `
flock -w 60 9
systemctl stop kubelet
systemctl stop containerd
mkdir -p "$2"
mount -t tmpfs -o size="$3" nodelab-imagefs "$2"
cp -a "$1"/. "$2"/
mount --bind "$2" "$1"
umount "$2"
rmdir "$2"
systemctl start containerd`
	d.moved = true
	if _, err := nodeexec.Run(ctx, node, "sh", "-c", script, "sh", ContainerdRoot, stagingDir, strconv.FormatUint(size+headroom, 10)); err != nil {
		return d, fmt.Errorf("move containerd's root on %s onto a tmpfs: %w", node, err)
	}
	var rt *noderuntime.Client
	err = wait.Until(ctx, wait.Within{What: "containerd on " + node.String() + " answering on its tmpfs root", Timeout: runtimeBack, Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		c, err := dial(ctx)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		rt = c
	})
	if err != nil {
		return d, err
	}
	defer func() { _ = rt.Close() }()
	if d.Pruned, err = pruneUnused(ctx, rt, keep); err != nil {
		return d, err
	}
	used, err := nodeexec.StatfsOf(ctx, node, ContainerdRoot)
	if err != nil {
		return d, err
	}
	d.Used = used.CapacityBytes - used.FreeBytes
	d.Size = (d.Used + headroom + (1<<20 - 1)) &^ (1<<20 - 1)
	if _, err := nodeexec.Run(ctx, node, "sh", "-c", `mount -o remount,size="$2" "$1" && systemctl start kubelet`, "sh", ContainerdRoot, strconv.FormatUint(d.Size, 10)); err != nil {
		return d, fmt.Errorf("resize the tmpfs and start the kubelet on %s: %w", node, err)
	}
	return d, nil
}

// pruneUnused deletes from containerd the images no container uses and not
// named in keep (by target digest, so every name of a kept image stays).
func pruneUnused(ctx context.Context, rt *noderuntime.Client, keep []string) ([]string, error) {
	ctx = rt.Namespaced(ctx)
	cs, err := rt.Containerd.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers on %s: %w", rt.Node, err)
	}
	is := rt.Containerd.ImageService()
	all, err := is.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images on %s: %w", rt.Node, err)
	}
	byName := map[string]string{}
	for _, im := range all {
		byName[im.Name] = im.Target.Digest.String()
	}
	used := map[string]bool{}
	// What the CRI says is in use (containers' image IDs) or pinned (the
	// sandbox image), by every name it has.
	criUsed, err := criKeep(ctx, rt)
	if err != nil {
		return nil, err
	}
	for _, name := range append(keep, criUsed...) {
		if d, ok := byName[name]; ok {
			used[d] = true
		}
	}
	for _, c := range cs {
		info, err := c.Info(ctx)
		if err != nil {
			continue
		}
		used[byName[info.Image]] = true
	}
	var pruned []string
	for _, im := range all {
		if used[im.Target.Digest.String()] {
			continue
		}
		if err := is.Delete(ctx, im.Name, images.SynchronousDelete()); err != nil {
			return pruned, fmt.Errorf("delete image %s from the copy on %s: %w", im.Name, rt.Node, err)
		}
		if !strings.HasPrefix(im.Name, "sha256:") {
			pruned = append(pruned, im.Name)
		}
	}
	return pruned, nil
}

// undo stops the kubelet and containerd, unmounts the tmpfs (the original
// root is back) and starts both again.
func (d *dedicatedFs) undo(ctx context.Context) error {
	if d == nil || !d.moved {
		return nil
	}
	// The lock waits for a move whose docker exec was cancelled but whose
	// script still runs in the node.
	script := `exec 9>` + lockFile + `
flock -w 600 9 || { echo "a move of ` + ContainerdRoot + ` still holds ` + lockFile + `" >&2; exit 1; }
systemctl stop kubelet
systemctl stop containerd
if [ "$(stat -f -c %T "$1")" = tmpfs ]; then umount "$1" || umount -l "$1"; fi
if mountpoint -q "$2"; then umount "$2"; fi
rmdir "$2" 2>/dev/null
rm -f ` + lockFile + `
systemctl start containerd && systemctl start kubelet`
	if _, err := nodeexec.Run(ctx, d.node, "sh", "-c", script, "sh", ContainerdRoot, stagingDir); err != nil {
		return fmt.Errorf("put containerd's root back on %s: %w; to recover by hand: docker restart %s (the bind mount does not survive it), then docker exec %s systemctl start containerd kubelet", d.node, err, d.node, d.node)
	}
	st, err := nodeexec.StatfsOf(ctx, d.node, ContainerdRoot)
	if err != nil {
		return err
	}
	if st.Type == "tmpfs" {
		return fmt.Errorf("%s on %s is still a tmpfs after the unmount: docker restart %s puts the original back (the bind mount does not survive it)", ContainerdRoot, d.node, d.node)
	}
	d.moved = false
	return nil
}

// criKeep lists the names of the images the CRI reports in use by a
// container or pinned.
func criKeep(ctx context.Context, rt *noderuntime.Client) ([]string, error) {
	cs, err := rt.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, fmt.Errorf("CRI ListContainers on %s: %w", rt.Node, err)
	}
	inUse := map[string]bool{}
	for _, c := range cs.GetContainers() {
		inUse[c.GetImageRef()] = true
		inUse[c.GetImage().GetImage()] = true
	}
	is, err := rt.Images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, fmt.Errorf("CRI ListImages on %s: %w", rt.Node, err)
	}
	var names []string
	for _, im := range is.GetImages() {
		if im.GetPinned() || inUse[im.GetId()] {
			names = append(names, im.GetRepoTags()...)
			names = append(names, im.GetRepoDigests()...)
			names = append(names, im.GetId())
		}
	}
	return names, nil
}
