package app

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/scenarios"
)

func newScenarios(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "scenarios",
		Short: "list scenarios with their labels, requirements and typical duration",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tLABELS\tREQUIRES\tTYPICAL\tSUMMARY")
			for _, s := range scenarios.All() {
				req := "-"
				if len(s.Requires) > 0 {
					req = strings.Join(s.Requires, ",")
				}
				labels := append([]string{s.Label()}, s.Labels...)
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.ID, strings.Join(labels, ","), req, s.Typical, s.Summary)
			}
			return w.Flush()
		},
	}
}
