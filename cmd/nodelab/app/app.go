// Package app is the nodelab CLI: one file per verb, flags turned into the
// options structs of the lab library. Results go to stdout, progress to
// stderr. Exit codes: 0 ok, 1 runtime failure, 2 usage error, 130 interrupted.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nodelab/nodelab/lab/images/forge"
	"github.com/nodelab/nodelab/lab/progress"
	"github.com/nodelab/nodelab/scenarios"
)

// usageError marks errors that exit with code 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// globals are the flags every verb shares.
type globals struct {
	verbose      int
	quiet        bool
	stateDir     string
	timeoutScale float64
	stdout       io.Writer
	stderr       io.Writer
}

// progress returns the stderr reporter (nil with -q).
func (g *globals) progress() *progress.Reporter {
	if g.quiet {
		return nil
	}
	return progress.New(g.stderr)
}

// logger writes details to stderr at -v and above.
func (g *globals) logger() *slog.Logger {
	if g.verbose == 0 {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelDebug - slog.Level(g.verbose)}))
}

// t is the shared timeout table, scaled by --timeout-scale.
func (g *globals) t() scenarios.Timeouts { return scenarios.Env{Scale: g.timeoutScale}.T() }

func (g *globals) forge() (*forge.Forge, error) {
	return forge.New(forge.Options{Progress: g.progress(), Verbose: g.verbose > 1, LogWriter: g.stderr})
}

// Main runs the CLI and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second Ctrl-C while cleaning up exits at once.
		<-ctx.Done()
		second := make(chan os.Signal, 1)
		signal.Notify(second, os.Interrupt, syscall.SIGTERM)
		<-second
		fmt.Fprintln(stderr, "nodelab: interrupted twice, exiting without cleanup")
		os.Exit(130)
	}()
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	// cobra reports an unknown verb as a plain error; it is bad input.
	if strings.HasPrefix(err.Error(), "unknown command ") {
		err = usageError{err}
	}
	fmt.Fprintf(stderr, "nodelab: %v\n", err)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "Run 'nodelab --help' for usage.")
		return 2
	case ctx.Err() != nil:
		return 130
	default:
		return 1
	}
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "nodelab",
		Short:         "kind labs for node-level chaos tests: eviction, cgroups, ingress rollouts, port-forward",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// client-go (klog) and the Chaos Mesh client (controller-runtime)
			// log what nodelab returns as errors anyway, such as an exec
			// stream cut while a node agent's kubelet restarts: shown with
			// -v only. Without a logger controller-runtime prints a stack
			// trace after 30 s.
			klog.SetSlogLogger(g.logger())
			ctrllog.SetLogger(logr.FromSlogHandler(g.logger().Handler()))
			switch {
			case cmd.Flags().Changed("timeout-scale") && !scenarios.ValidScale(g.timeoutScale):
				return usagef("--timeout-scale=%v: want a number above 0 and at most %d (2 doubles every timeout)", g.timeoutScale, scenarios.MaxScale)
			case g.timeoutScale == 0:
				scale, err := scenarios.ScaleFromEnv()
				if err != nil {
					return usageError{err}
				}
				g.timeoutScale = scale
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.CountVarP(&g.verbose, "verbose", "v", "more detail on stderr (-vv: build tool output)")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "no progress lines, only results and errors")
	pf.StringVar(&g.stateDir, "state-dir", "", "where lab records and kubeconfigs live (default $XDG_STATE_HOME/nodelab)")
	pf.Float64Var(&g.timeoutScale, "timeout-scale", 0, "multiply every scenario timeout (default $NODELAB_TIMEOUT_SCALE or 1)")
	root.AddCommand(newUp(g), newDown(g), newStatus(g), newKubeconfig(g), newScenarios(g), newRun(g), newDoctor(g), newImages(g), newBench(g), newNLB(g))
	return root
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
