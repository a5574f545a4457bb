package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images/forge"
	"github.com/nodelab/nodelab/scenarios"
)

func newRun(g *globals) *cobra.Command {
	var pf profileFlags
	var kubeconfig string
	var retain bool
	cmd := &cobra.Command{
		Use:   "run <scenario-id>...",
		Short: "run scenarios' runbooks on a lab (created, reused, or attached with --kubeconfig)",
		Long: `Run the steps of one or more scenarios directly, without ginkgo, and print
PASS/FAIL/SKIP per step. The lab is created from the profile (and deleted
afterwards unless --retain or it already existed), or given by --kubeconfig.
For JUnit reports use 'make e2e LABELS=scenario:<id>'.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("name at least one scenario (see `nodelab scenarios`)")
			}
			for _, id := range args {
				if _, err := scenarios.Get(id); err != nil {
					return usageError{err}
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx := cmd.Context()
			f, err := g.forge()
			if err != nil {
				return err
			}
			scenarios.Addons = addon.Options{Builder: f, Progress: g.progress()}
			var l *lab.Lab
			if kubeconfig != "" {
				if l, err = lab.Attach(ctx, kubeconfig); err != nil {
					return err
				}
			} else {
				p, err := pf.load()
				if err != nil {
					return err
				}
				l, err = lab.Up(ctx, lab.UpOptions{Profile: p, Retain: retain, StateDir: g.stateDir,
					Forge: forge.NodeImageSource{Forge: f}, ReadyTimeout: scenarios.T().NodeReady,
					Progress: g.progress(), Log: g.logger()})
				if err != nil {
					return err
				}
				if l.Created && !retain {
					defer func() {
						dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
						defer cancel()
						err = errors.Join(err, lab.Down(dctx, l.Name, lab.DownOptions{StateDir: g.stateDir}))
					}()
				}
			}
			failed := 0
			for _, id := range args {
				s, _ := scenarios.Get(id)
				failed += runScenario(ctx, g, l, s)
			}
			if failed > 0 {
				return fmt.Errorf("%d step(s) failed", failed)
			}
			return nil
		},
	}
	pf.add(cmd)
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "run against this existing cluster (never deleted)")
	cmd.Flags().BoolVar(&retain, "retain", false, "keep a lab this run created")
	return cmd
}

// runScenario runs each step in order, stopping at the first failure, and
// always runs the cleanup. It returns the number of failed steps.
func runScenario(ctx context.Context, g *globals, l *lab.Lab, s scenarios.Scenario) int {
	steps, cleanup := s.Steps(l)
	failed := 0
	for _, st := range steps {
		start := time.Now()
		err := st.Run(ctx)
		d := time.Since(start).Round(100 * time.Millisecond)
		var na *scenarios.NotApplicable
		switch {
		case errors.As(err, &na):
			fmt.Fprintf(g.stdout, "SKIP  %s / %s (%s): %s\n", s.ID, st.Name, d, na.Reason)
		case err != nil:
			fmt.Fprintf(g.stdout, "FAIL  %s / %s (%s): %v\n", s.ID, st.Name, d, err)
			failed++
		default:
			fmt.Fprintf(g.stdout, "PASS  %s / %s (%s)\n", s.ID, st.Name, d)
		}
		if failed > 0 {
			break
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), scenarios.T().Cleanup)
	defer cancel()
	if err := cleanup(cctx); err != nil {
		fmt.Fprintf(g.stdout, "FAIL  %s / cleanup: %v\n", s.ID, err)
		failed++
	}
	return failed
}
