package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/builtin"
	"github.com/nodelab/nodelab/lab/images/forge"
)

func newUp(g *globals) *cobra.Command {
	var pf profileFlags
	var retain bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "create a lab from a profile (or reuse it if it exists with the same profile)",
		Long: `Create a kind lab from a profile. Images come from the profile's imageSource:
upstream (kind's published images), forge (built here from Go modules and
Debian packages) or auto. Ctrl-C or a failure deletes the half-built lab
unless --retain. The kubeconfig is written to nodelab's state folder, never to
~/.kube/config: see 'nodelab kubeconfig'.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := pf.load()
			if err != nil {
				return err
			}
			// Unknown addons are bad input: refuse before any container exists.
			for _, name := range p.Addons {
				if _, err := addon.Find(builtin.All(), name); err != nil {
					return usageError{fmt.Errorf("profile %s: %w", p.Name, err)}
				}
			}
			f, err := g.forge()
			if err != nil {
				return err
			}
			l, err := lab.Up(cmd.Context(), lab.UpOptions{
				Profile: p, Retain: retain, StateDir: g.stateDir,
				Forge:        forge.NodeImageSource{Forge: f},
				ReadyTimeout: g.t().NodeReady,
				Progress:     g.progress(), Log: g.logger(),
			})
			if err != nil {
				return err
			}
			opts := addon.Options{Builder: f, Progress: g.progress(), Known: builtin.All()}
			if err := addon.Ensure(cmd.Context(), l, opts, p.Addons...); err != nil {
				if l.Created && !retain {
					dctx, cancel := context.WithTimeout(context.WithoutCancel(cmd.Context()), 3*time.Minute)
					defer cancel()
					err = errors.Join(err, lab.Down(dctx, l.Name, lab.DownOptions{StateDir: g.stateDir}))
					return fmt.Errorf("%w (the lab was deleted; use --retain to keep it for debugging)", err)
				}
				return err
			}
			verb := "created"
			if !l.Created {
				verb = "reused"
			}
			fmt.Fprintf(g.stdout, "lab %s %s: %d nodes, node image %s (%s)\n", l.Name, verb, p.WorkerCount()+1, l.Image.Image, l.Image.Source)
			fmt.Fprintf(g.stdout, "kubeconfig: %s\n  export KUBECONFIG=$(nodelab kubeconfig --name %s)\n", l.Kubeconfig, l.Name)
			return nil
		},
	}
	pf.add(cmd)
	cmd.Flags().BoolVar(&retain, "retain", false, "keep a half-built lab after a failure, for debugging")
	return cmd
}
