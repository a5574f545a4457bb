package lab

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/noderuntime"
)

// LoadImages copies images from the local Docker engine into every node of
// the lab (what `kind load docker-image` does), skipping nodes that already
// have the same image ID. Labs on the forge image source need this for every
// image that is not preloaded: no node can pull.
func (l *Lab) LoadImages(ctx context.Context, refs ...string) error {
	nodeList, err := l.KindNodes()
	if err != nil {
		return err
	}
	// Each node's containerd through the containerd client (CRI
	// ImageStatus); where it cannot be reached, kind's `crictl inspecti`.
	runtimes := map[string]*noderuntime.Client{}
	for _, n := range nodeList {
		if rt, err := noderuntime.Dial(ctx, n, ""); err == nil {
			runtimes[n.String()] = rt
			defer func() { _ = rt.Close() }()
		}
	}
	imageID := func(n nodes.Node, ref string) (string, error) {
		if rt := runtimes[n.String()]; rt != nil {
			return rt.ImageID(ctx, ref)
		}
		return nodeutils.ImageID(n, ref)
	}
	for _, ref := range refs {
		id, err := dockercli.Run(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
		if err != nil {
			return fmt.Errorf("load image %s into lab %s: not in the local engine (build it with `nodelab images build`): %w", ref, l.Name, err)
		}
		id = strings.TrimSpace(id)
		var missing []nodes.Node
		for _, n := range nodeList {
			if have, err := imageID(n, ref); err != nil || have != id {
				missing = append(missing, n)
			}
		}
		for _, n := range missing {
			if err := LoadImageInto(ctx, n, ref); err != nil {
				return fmt.Errorf("load image %s into node %s: %w", ref, n.String(), err)
			}
		}
	}
	return nil
}

// LoadImageInto streams `docker save ref` into one kind node's containerd,
// as `kind load docker-image` does.
func LoadImageInto(ctx context.Context, n nodes.Node, ref string) error {
	save := exec.CommandContext(ctx, "docker", "save", ref)
	out, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	save.Stderr = &stderr
	if err := save.Start(); err != nil {
		return fmt.Errorf("docker save: %w", err)
	}
	loadErr := nodeutils.LoadImageArchive(n, out)
	_, _ = io.Copy(io.Discard, out)
	if err := save.Wait(); err != nil {
		return fmt.Errorf("docker save %s: %w: %s", ref, err, stderr.String())
	}
	return loadErr
}
