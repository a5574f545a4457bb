package app

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab"
)

func newStatus(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "list labs: nodes, readiness, addons, image source",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Unreadable records (bad) are reported after the readable ones.
			st, bad := lab.List(cmd.Context(), g.stateDir)
			if len(st) == 0 {
				if bad != nil {
					return bad
				}
				fmt.Fprintln(g.stdout, "no labs: create one with `nodelab up`")
				return nil
			}
			w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "LAB\tSTATE\tNODES\tIMAGE SOURCE\tNODE IMAGE\tADDONS")
			for _, s := range st {
				r := s.Record
				state, nodes := r.Phase, "-"
				if !s.Exists {
					state = "gone (run `nodelab down --name " + r.Name + "`)"
				} else if l, err := lab.Open(cmd.Context(), r.Name, g.stateDir); err == nil {
					if list, err := l.Client.CoreV1().Nodes().List(cmd.Context(), metav1.ListOptions{}); err == nil {
						ready := 0
						for i := range list.Items {
							if lab.NodeReady(&list.Items[i]) {
								ready++
							}
						}
						nodes = fmt.Sprintf("%d/%d Ready", ready, len(list.Items))
					} else {
						nodes = "API unreachable"
					}
				}
				addons := "-"
				if r.Profile != nil && len(r.Profile.Addons) > 0 {
					addons = strings.Join(r.Profile.Addons, ",")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, state, nodes, r.ImageSource, r.NodeImage, addons)
			}
			return errors.Join(w.Flush(), bad)
		},
	}
}
