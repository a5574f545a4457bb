// Package noderuntime reads and acts on a node's container runtime with the
// containerd Go client (github.com/containerd/containerd/v2/client) and the
// CRI API (k8s.io/cri-api), reached through the node-access layer: the gRPC
// connection is `socat - UNIX-CONNECT:/run/containerd/containerd.sock` run
// on the node (docker exec for kind nodes, the node agent's exec stream on
// other clusters), so nothing listens on the node and nothing is installed.
//
// Why the v2 client: it is the maintained line and speaks the same
// containerd API (containerd.services.*.v1) that Debian's containerd 1.6
// on forge nodes and kindest/node's containerd 2.x serve; only the calls
// this package makes (containers, tasks, snapshots, namespaces, version)
// and the CRI runtime.v1 services are used, and each exists in both.
package noderuntime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync/atomic"
	"syscall"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodelab/nodelab/lab/nodeexec"
)

// DefaultSocket is containerd's socket on kind nodes and most distributions.
const DefaultSocket = "/run/containerd/containerd.sock"

// K8sNamespace is the containerd namespace the CRI plugin keeps the
// kubelet's pods, containers and images in.
const K8sNamespace = "k8s.io"

// CRI labels on containerd containers (set by the CRI plugin).
const (
	labelKind         = "io.cri-containerd.kind"
	labelPodName      = "io.kubernetes.pod.name"
	labelPodNamespace = "io.kubernetes.pod.namespace"
	labelPodUID       = "io.kubernetes.pod.uid"
)

// Client is a connection to one node's containerd.
type Client struct {
	// Node is the node's name.
	Node string
	// Containerd is the containerd client, with the k8s.io namespace as
	// its default.
	Containerd *containerd.Client
	// Images and Runtime are the CRI services on the same connection.
	Images  runtimeapi.ImageServiceClient
	Runtime runtimeapi.RuntimeServiceClient

	conn *grpc.ClientConn
	// socatErr is how the last socat on the node failed, if it did: the
	// reason a call fails with a bare "connection closed".
	socatErr atomic.Pointer[error]
}

// Dial connects to containerd on node through socket (DefaultSocket when
// empty). The connection is made lazily by gRPC; Dial checks it by asking
// the runtime's version, so a node without socat or without containerd
// fails here with the node's own error.
func Dial(ctx context.Context, node nodeexec.Node, socket string) (*Client, error) {
	if socket == "" {
		socket = DefaultSocket
	}
	c := &Client{Node: node.String()}
	conn, err := grpc.NewClient("passthrough:///containerd",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			return dialExec(node, socket, func(err error) {
				if !errors.Is(err, io.EOF) {
					c.socatErr.Store(&err)
				}
			})
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("containerd client for node %s: %w", node, err)
	}
	cd, err := containerd.NewWithConn(conn, containerd.WithDefaultNamespace(K8sNamespace))
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("containerd client for node %s: %w", node, err)
	}
	c.Containerd, c.conn = cd, conn
	c.Images, c.Runtime = runtimeapi.NewImageServiceClient(conn), runtimeapi.NewRuntimeServiceClient(conn)
	if _, err := c.Version(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection (and ends socat on the node).
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) ns(ctx context.Context) context.Context { return c.Namespaced(ctx) }

// Namespaced returns ctx with the k8s.io containerd namespace, for calls
// made on Containerd directly.
func (c *Client) Namespaced(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, K8sNamespace)
}

// Version is containerd's version ("1.6.20~ds1", "v2.1.4").
func (c *Client) Version(ctx context.Context) (string, error) {
	v, err := c.Containerd.Version(ctx)
	if err != nil {
		if e := c.socatErr.Load(); e != nil {
			return "", fmt.Errorf("containerd version on node %s: %w (%w)", c.Node, err, *e)
		}
		return "", fmt.Errorf("containerd version on node %s (through socat on %s; does the node have socat and containerd?): %w", c.Node, DefaultSocket, err)
	}
	return v.Version, nil
}

// FsUsage is one filesystem of the CRI's ImageFsInfo answer.
type FsUsage struct {
	// Mountpoint is the directory the runtime keeps the data in (the
	// snapshotter's root for images).
	Mountpoint string
	UsedBytes  uint64
	InodesUsed uint64
}

// ImageFs returns the CRI ImageFsInfo image filesystems: what the kubelet
// reports as imageFs usedBytes and inodesUsed.
func (c *Client) ImageFs(ctx context.Context) ([]FsUsage, error) {
	resp, err := c.Images.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil {
		return nil, fmt.Errorf("CRI ImageFsInfo on node %s: %w", c.Node, err)
	}
	var out []FsUsage
	for _, fs := range resp.GetImageFilesystems() {
		out = append(out, FsUsage{Mountpoint: fs.GetFsId().GetMountpoint(), UsedBytes: fs.GetUsedBytes().GetValue(), InodesUsed: fs.GetInodesUsed().GetValue()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("CRI ImageFsInfo on node %s returned no image filesystem", c.Node)
	}
	return out, nil
}

// ImageID returns the ID (config digest) the CRI reports for image ref, or
// "" when the runtime does not hold it: what `crictl inspecti` prints.
func (c *Client) ImageID(ctx context.Context, ref string) (string, error) {
	resp, err := c.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		return "", fmt.Errorf("CRI ImageStatus %s on node %s: %w", ref, c.Node, err)
	}
	return resp.GetImage().GetId(), nil
}

// SnapshotUsage is the sum of a snapshotter's Usage over every snapshot in
// the k8s.io namespace.
type SnapshotUsage struct {
	Snapshots int
	Bytes     uint64
	Inodes    uint64
}

// SnapshotUsage sums Usage over every snapshot of snapshotter ("overlayfs").
// A snapshot removed while walking is skipped.
func (c *Client) SnapshotUsage(ctx context.Context, snapshotter string) (SnapshotUsage, error) {
	ctx = c.ns(ctx)
	svc := c.Containerd.SnapshotService(snapshotter)
	var names []string
	if err := svc.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		names = append(names, info.Name)
		return nil
	}); err != nil {
		return SnapshotUsage{}, fmt.Errorf("walk %s snapshots on node %s: %w", snapshotter, c.Node, err)
	}
	var u SnapshotUsage
	for _, name := range names {
		us, err := svc.Usage(ctx, name)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return SnapshotUsage{}, fmt.Errorf("usage of %s snapshot %s on node %s: %w", snapshotter, name, c.Node, err)
		}
		u.Snapshots++
		u.Bytes += uint64(us.Size)
		u.Inodes += uint64(us.Inodes)
	}
	return u, nil
}

// Sandbox is a pod sandbox as containerd holds it (the CRI plugin's pause
// container), whatever the CRI plugin's memory says.
type Sandbox struct {
	ID           string
	PodName      string
	PodNamespace string
	PodUID       string
	// NetNS is the sandbox's network namespace path (empty for host
	// network pods).
	NetNS string
	// Running says whether its task (the pause process) runs.
	Running bool
}

// Sandboxes lists the pod sandboxes containerd holds, sorted by pod.
func (c *Client) Sandboxes(ctx context.Context) ([]Sandbox, error) {
	ctx = c.ns(ctx)
	cs, err := c.Containerd.Containers(ctx, fmt.Sprintf("labels.%q==sandbox", labelKind))
	if err != nil {
		return nil, fmt.Errorf("list sandboxes on node %s: %w", c.Node, err)
	}
	var out []Sandbox
	for _, ct := range cs {
		labels, err := ct.Labels(ctx)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("labels of sandbox %s on node %s: %w", ct.ID(), c.Node, err)
		}
		sb := Sandbox{ID: ct.ID(), PodName: labels[labelPodName], PodNamespace: labels[labelPodNamespace], PodUID: labels[labelPodUID]}
		if spec, err := ct.Spec(ctx); err == nil && spec.Linux != nil {
			for _, ns := range spec.Linux.Namespaces {
				if ns.Type == "network" {
					sb.NetNS = ns.Path
				}
			}
		}
		if task, err := ct.Task(ctx, nil); err == nil {
			if st, err := task.Status(ctx); err == nil && st.Status == containerd.Running {
				sb.Running = true
			}
		}
		out = append(out, sb)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PodNamespace != out[j].PodNamespace {
			return out[i].PodNamespace < out[j].PodNamespace
		}
		return out[i].PodName < out[j].PodName
	})
	return out, nil
}

// PodContainers lists the IDs of every containerd container (sandbox and
// app containers) of pods in a Kubernetes namespace, app containers first
// (a pod's shim serves them and ends with its sandbox).
func (c *Client) PodContainers(ctx context.Context, podNamespace string) ([]string, error) {
	ctx = c.ns(ctx)
	cs, err := c.Containerd.Containers(ctx, fmt.Sprintf("labels.%q==%s", labelPodNamespace, podNamespace))
	if err != nil {
		return nil, fmt.Errorf("list containers of namespace %s on node %s: %w", podNamespace, c.Node, err)
	}
	var apps, sandboxes []string
	for _, ct := range cs {
		labels, err := ct.Labels(ctx)
		if err != nil && !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("labels of container %s on node %s: %w", ct.ID(), c.Node, err)
		}
		if labels[labelKind] == "sandbox" {
			sandboxes = append(sandboxes, ct.ID())
		} else {
			apps = append(apps, ct.ID())
		}
	}
	sort.Strings(apps)
	sort.Strings(sandboxes)
	return append(apps, sandboxes...), nil
}

// RemoveContainer kills a container's task, deletes the task and the
// container with its snapshot, straight through containerd: the CRI plugin
// is not asked, so no CNI DEL runs for a sandbox removed this way (what a
// runtime reinstalled with an empty state does to the pods it had).
func (c *Client) RemoveContainer(ctx context.Context, id string) error {
	ctx = c.ns(ctx)
	ct, err := c.Containerd.LoadContainer(ctx, id)
	if err != nil {
		return fmt.Errorf("load container %s on node %s: %w", id, c.Node, err)
	}
	task, err := ct.Task(ctx, nil)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("task of container %s on node %s: %w", id, c.Node, err)
	default:
		exited, err := task.Wait(ctx)
		if err != nil {
			return fmt.Errorf("wait on task %s on node %s: %w", id, c.Node, err)
		}
		if err := task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) && !errors.Is(err, errdefs.ErrFailedPrecondition) {
			return fmt.Errorf("kill task %s on node %s: %w", id, c.Node, err)
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return fmt.Errorf("task %s on node %s did not exit after SIGKILL: %w", id, c.Node, ctx.Err())
		}
		if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			// The shim of a pod's last task exits while it answers the
			// delete ("ttrpc: closed"); the task is gone all the same.
			if _, terr := ct.Task(ctx, nil); !errdefs.IsNotFound(terr) {
				return fmt.Errorf("delete task %s on node %s: %w", id, c.Node, err)
			}
		}
	}
	if err := ct.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s on node %s: %w", id, c.Node, err)
	}
	// containerd 2.x's CRI also keeps each sandbox in its sandbox store
	// and recovers it from there; 1.6 has no such store (NotImplemented).
	if err := c.Containerd.SandboxStore().Delete(ctx, id); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsNotImplemented(err) && status.Code(err) != codes.Unimplemented {
		return fmt.Errorf("delete sandbox %s from containerd's sandbox store on node %s: %w", id, c.Node, err)
	}
	return nil
}
