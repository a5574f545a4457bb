package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/lab"
)

func newKubeconfig(g *globals) *cobra.Command {
	var pf profileFlags
	var raw bool
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "print the path of a lab's kubeconfig (--raw: its contents)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, err := pf.labName()
			if err != nil {
				return err
			}
			state := g.stateDir
			if state == "" {
				state = lab.DefaultStateDir()
			}
			path := lab.KubeconfigPath(state, name)
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("lab %s has no kubeconfig: create it with `nodelab up --name %s`", name, name)
			}
			if err != nil {
				return err
			}
			if raw {
				_, err = g.stdout.Write(b)
				return err
			}
			fmt.Fprintln(g.stdout, path)
			return nil
		},
	}
	pf.add(cmd)
	cmd.Flags().BoolVar(&raw, "raw", false, "print the kubeconfig itself")
	return cmd
}
