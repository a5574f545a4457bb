package app

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/lab"
)

func newDown(g *globals) *cobra.Command {
	var pf profileFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "delete a lab nodelab created (never other kind clusters)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var names []string
			if all {
				st, err := lab.List(cmd.Context(), g.stateDir)
				if err != nil {
					return err
				}
				for _, s := range st {
					names = append(names, s.Record.Name)
				}
			} else {
				n, err := pf.labName()
				if err != nil {
					return err
				}
				names = []string{n}
			}
			for _, n := range names {
				step := g.progress().Start("Deleting lab " + n)
				if err := step.End(lab.Down(cmd.Context(), n, lab.DownOptions{StateDir: g.stateDir})); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "lab %s deleted\n", n)
			}
			return nil
		},
	}
	pf.add(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "delete every lab nodelab has a record of")
	return cmd
}
