package app

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/scenarios/catalog"
)

func newScenarios(g *globals) *cobra.Command {
	var steps, markdown, ciShards bool
	cmd := &cobra.Command{
		Use:   "scenarios",
		Short: "list scenarios with their labels, requirements and typical duration",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ciShards {
				fmt.Fprintln(g.stdout, catalog.CIShardsJSON())
				return nil
			}
			if markdown {
				fmt.Fprint(g.stdout, catalog.Markdown())
				return nil
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tLABELS\tREQUIRES\tTYPICAL\tSUMMARY")
			for _, s := range catalog.All() {
				req := "-"
				if len(s.Requires) > 0 {
					req = strings.Join(s.Requires, ",")
				}
				labels := []string{s.Label()}
				for _, l := range s.Labels {
					labels = append(labels, string(l))
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.ID, strings.Join(labels, ","), req, s.Typical, s.Summary)
			}
			if err := w.Flush(); err != nil || !steps {
				return err
			}
			for _, s := range catalog.All() {
				fmt.Fprintf(g.stdout, "\n%s (typical %s):\n", s.ID, s.Typical)
				// Binding to an empty environment only lists the steps.
				rb := s.Steps()
				for i, st := range rb.Steps {
					typical := "-"
					if st.Typical > 0 {
						typical = st.Typical.String()
					}
					fmt.Fprintf(g.stdout, "  %d. %-8s %-7s %s (timeout %s)\n", i+1, typical, st.Side, st.Name, st.Timeout)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&ciShards, "ci-shards", false, "print GitHub CI's e2e matrix (one shard per scenario) as JSON")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the README's scenario table (made from the catalog)")
	cmd.Flags().BoolVar(&steps, "steps", false, "also list each scenario's runbook steps (its e2e specs) with their typical durations")
	return cmd
}
