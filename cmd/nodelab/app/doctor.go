package app

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/nodelab/nodelab/lab/doctor"
)

func newDoctor(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "check the host for what labs need (PASS/WARN/FAIL per line, like virt-host-validate)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := doctor.Run(cmd.Context(), doctor.Options{})
			var err error
			if g.verbose > 0 {
				err = r.WriteVerbose(g.stdout)
			} else {
				err = r.Write(g.stdout)
			}
			if err != nil {
				return err
			}
			if r.Failed() {
				return errors.New("host checks failed: fix the FAIL lines above")
			}
			return nil
		},
	}
}
