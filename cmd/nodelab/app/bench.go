package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images/forge"
	"github.com/nodelab/nodelab/lab/profile"
)

func newBench(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "measure nodelab against a baseline, side by side in one run"}
	var pf profileFlags
	up := &cobra.Command{
		Use:   "up",
		Short: "time `nodelab up` against a bare kind create of the same node image and print the ratio",
		Long: `Creates and deletes two labs one after the other from the same node image:
a bare kind cluster (kind's Go library, same node count, only the kubelet patch
a cgroup v1 host needs to start at all) and a nodelab lab from the profile.
Both are timed until every node is Ready. Target: ratio ≤ 1.3.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			p, err := pf.load()
			if err != nil {
				return err
			}
			p.Name = "nodelab-bench"
			f, err := g.forge()
			if err != nil {
				return err
			}
			choice, err := lab.ChooseNodeImage(ctx, p.ImageSource, p.NodeImage, forge.NodeImageSource{Forge: f})
			if err != nil {
				return err
			}
			p.NodeImage = choice.Image
			// The bare kind create makes the kind network when it is
			// missing; no lab record owns it, so the bench removes it.
			guard := lab.GuardKindNetwork(ctx)
			defer func() {
				dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := guard.Release(dctx); err != nil {
					g.progress().Printf("could not remove the kind docker network the bench created: %v", err)
				}
			}()
			bare, err := benchBareKind(ctx, g, p.WorkerCount(), choice.Image)
			if err != nil {
				return fmt.Errorf("bare kind create: %w", err)
			}
			start := time.Now()
			l, err := lab.Up(ctx, lab.UpOptions{Profile: p, StateDir: g.stateDir, ReadyTimeout: g.t().NodeReady, Progress: g.progress(), Log: g.logger()})
			up := time.Since(start)
			if l != nil && l.Created {
				defer func() {
					dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
					defer cancel()
					_ = lab.Down(dctx, p.Name, lab.DownOptions{StateDir: g.stateDir})
				}()
			}
			if err != nil {
				return fmt.Errorf("nodelab up: %w", err)
			}
			fmt.Fprintf(g.stdout, "node image:        %s\n", choice.Image)
			fmt.Fprintf(g.stdout, "bare kind create:  %s\n", bare.Round(100*time.Millisecond))
			fmt.Fprintf(g.stdout, "nodelab up:        %s\n", up.Round(100*time.Millisecond))
			fmt.Fprintf(g.stdout, "ratio:             %.2fx (target ≤ 1.30x)\n", up.Seconds()/bare.Seconds())
			return nil
		},
	}
	pf.add(up)
	cmd.AddCommand(up)
	return cmd
}

// benchBareKind times kind's create of 1 control plane + workers until all
// nodes are Ready, then deletes the cluster.
func benchBareKind(ctx context.Context, g *globals, workers int, image string) (time.Duration, error) {
	const name = "nodelab-bench-kind"
	dir, err := os.MkdirTemp("", "nodelab-bench-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cg, err := lab.HostCgroupVersion(ctx)
	if err != nil {
		return 0, err
	}
	// The smallest config that starts on this host: no profile settings.
	cfg, _, err := lab.KindConfig(benchProfile(name, workers), lab.KindConfigInput{NodeImage: image, CgroupVersion: cg})
	if err != nil {
		return 0, err
	}
	for i := range cfg.Nodes {
		cfg.Nodes[i].Labels = nil
	}
	provider := cluster.NewProvider(cluster.ProviderWithDocker())
	step := g.progress().Start("Bare kind create (" + image + ")")
	start := time.Now()
	err = provider.Create(name, cluster.CreateWithV1Alpha4Config(cfg), cluster.CreateWithKubeconfigPath(kubeconfig),
		cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false))
	defer func() { _ = provider.Delete(name, kubeconfig) }()
	if err != nil {
		return 0, step.End(err)
	}
	l, err := lab.Attach(ctx, kubeconfig)
	if err != nil {
		return 0, step.End(err)
	}
	if err := l.WaitNodesReady(ctx, workers+1, g.t().NodeReady); err != nil {
		return 0, step.End(err)
	}
	took := time.Since(start)
	if err := step.End(nil); err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return 0, errors.New("interrupted")
	}
	return took, nil
}

func benchProfile(name string, workers int) *profile.Profile {
	p := &profile.Profile{APIVersion: profile.APIVersion, Kind: profile.Kind, Name: name, Workers: &workers}
	p.SetDefaults()
	p.Kubelet = profile.Kubelet{} // bare: no eviction settings
	return p
}
