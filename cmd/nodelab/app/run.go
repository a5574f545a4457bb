package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/builtin"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/images/forge"
	"github.com/nodelab/nodelab/lab/instruments/timeline"
	"github.com/nodelab/nodelab/lab/profile"
	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/catalog"
)

func newRun(g *globals) *cobra.Command {
	var pf profileFlags
	var kubeconfig string
	var retain bool
	var artifacts string
	var allowNodeChanges, installAddons bool
	var nodeAgent bool
	var nodeAgentImage, attachedImages string
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
				if _, err := catalog.Get(id); err != nil {
					return usageError{err}
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx := cmd.Context()
			// Bad input first, before the forge cache or anything else is made.
			var p *profile.Profile
			var l *lab.Lab
			if kubeconfig != "" {
				if err := checkKubeconfig(kubeconfig); err != nil {
					return err
				}
				src := images.Source(attachedImages)
				if src != "" && src != images.SourceForge && src != images.SourceUpstream {
					return usagef("--images %q: want forge (the cluster's nodes hold nodelab's forge images) or upstream (it pulls)", attachedImages)
				}
				if l, err = lab.AttachWith(ctx, lab.AttachOptions{Kubeconfig: kubeconfig, Images: src,
					NodeAgent: lab.NodeAgentOptions{Enabled: nodeAgent, Image: nodeAgentImage}}); err != nil {
					return err
				}
				// The node agents are deleted however the run ends, and
				// their deletion is verified.
				defer func() {
					// Addons it installed, then the agents: each wait bounded.
					cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
					defer cancel()
					err = errors.Join(err, l.Close(cctx))
				}()
				fmt.Fprintf(g.stderr, "node access: %s\n", l.NodeAccessText())
			} else if p, err = pf.load(); err != nil {
				return err
			}
			f, err := g.forge()
			if err != nil {
				return err
			}
			env := scenarios.Env{Addons: addon.Options{Builder: f, Progress: g.progress(), Known: builtin.All(), InstallAddons: installAddons}, Scale: g.timeoutScale, AllowNodeChanges: allowNodeChanges}
			if kubeconfig == "" {
				l, err = lab.Up(ctx, lab.UpOptions{Profile: p, Retain: retain, StateDir: g.stateDir,
					Forge: forge.NodeImageSource{Forge: f}, ReadyTimeout: g.t().NodeReady,
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
			if l.Attached {
				// An attached kind cluster on this host that runs the forge
				// node image cannot pull: load its workload images.
				if err := l.LoadWorkloads(ctx, g.progress()); err != nil {
					return err
				}
			}
			env.Lab = l
			failed := 0
			for i, id := range args {
				if ctx.Err() != nil {
					// Interrupted: the scenario that was running has
					// cleaned up; start no other.
					return fmt.Errorf("interrupted: %d step(s) failed, scenarios not started: %s", failed, strings.Join(args[i:], " "))
				}
				s, _ := catalog.Get(id)
				failed += runScenario(ctx, g, env, s, artifacts)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: %d step(s) failed; each scenario started ran its cleanup and leak checks", failed)
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
	cmd.Flags().BoolVar(&allowNodeChanges, "allow-node-changes", false, "with --kubeconfig: let scenarios that change nodes (kubelet config and restart, memory pressure) run on a cluster nodelab did not create")
	cmd.Flags().BoolVar(&installAddons, "install-addons", false, "with --kubeconfig: let scenarios install addons that write on the nodes (Multus) when the cluster lacks them; removed again when the run ends")
	cmd.Flags().BoolVar(&nodeAgent, "node-agent", true, "with --kubeconfig: when the nodes are not kind containers on this host, reach them through privileged node agent pods (deleted afterwards)")
	cmd.Flags().StringVar(&nodeAgentImage, "node-agent-image", "", "with --kubeconfig: image of the node agents (needs nsenter; default the e2e image agnhost)")
	cmd.Flags().StringVar(&attachedImages, "images", "", "with --kubeconfig, reached without Docker: forge when the cluster's nodes hold nodelab's forge images (preloaded or mirrored under the same names), upstream (default) when it pulls")
	cmd.Flags().StringVar(&artifacts, "artifacts", "", "write each scenario's timelines to DIR/<scenario>/<name>.timeline.json")
	return cmd
}

// runScenario runs each step in order, each within its scaled timeout,
// stopping at the first failure, and always runs the cleanup and then the
// leak checks, as the e2e driver does; the runbook's log lines,
// measurements and timelines are printed under the step that made them. It
// returns the number of failed steps.
func runScenario(ctx context.Context, g *globals, env scenarios.Env, s scenarios.Scenario, artifacts string) int {
	if reason := scenarios.Unmet(env, s.Needs); reason != "" {
		fmt.Fprintf(g.stdout, "SKIP  %s: %s\n", s.ID, reason)
		return 0
	}
	rep := &cliReporter{w: g.stdout, dir: artifactsFor(artifacts, s.ID)}
	env.Report = rep
	rb := s.Runbook(env)
	failed := 0
	for _, st := range rb.Steps {
		rep.step = st.Name
		v := runCLIStep(ctx, g, env, s.ID, st)
		if v == stepFailed {
			failed++
			break
		}
		if v == stepSkipped && st.Side == scenarios.Setup {
			// As in the e2e suite: a setup that cannot run here skips the rest.
			break
		}
	}
	// Cleanup and leak checks run even after an interrupt, on their own
	// clocks.
	for _, st := range append([]scenarios.Step{rb.Cleanup}, rb.LeakChecks...) {
		rep.step = st.Name
		if runCLIStep(context.WithoutCancel(ctx), g, env, s.ID, st) == stepFailed {
			failed++
		}
	}
	return failed
}

type verdict int

const (
	stepPassed verdict = iota
	stepSkipped
	stepFailed
)

// runCLIStep runs one step within its scaled timeout and prints its verdict.
func runCLIStep(ctx context.Context, g *globals, env scenarios.Env, id string, st scenarios.Step) verdict {
	sctx, cancel := context.WithTimeout(ctx, env.Scaled(st.Timeout))
	defer cancel()
	start := time.Now()
	err := st.Run(sctx)
	d := time.Since(start).Round(100 * time.Millisecond)
	var na *scenarios.NotApplicable
	switch {
	case errors.As(err, &na):
		fmt.Fprintf(g.stdout, "SKIP  %s / %s (%s): %s\n", id, st.Name, d, na.Reason)
		return stepSkipped
	case err != nil:
		fmt.Fprintf(g.stdout, "FAIL  %s / %s (%s): %v\n", id, st.Name, d, err)
		return stepFailed
	default:
		fmt.Fprintf(g.stdout, "PASS  %s / %s (%s)\n", id, st.Name, d)
		return stepPassed
	}
}

// artifactsFor is where a scenario's timelines go ("" when --artifacts is
// not set: they are only summarised).
func artifactsFor(artifacts, id string) string {
	if artifacts == "" {
		return ""
	}
	return filepath.Join(artifacts, id)
}

// cliReporter prints a runbook's log lines and measurements as they come,
// indented under the step that is running, and writes its timelines as
// JSON files (the e2e report's format) when a folder is given, one folder
// per step as in the e2e artifacts.
type cliReporter struct {
	w    io.Writer
	dir  string
	step string
}

// unsafeName matches what a step name cannot keep in a folder name.
var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

func (r *cliReporter) Logf(format string, args ...any) {
	fmt.Fprintf(r.w, "      %s\n", fmt.Sprintf(format, args...))
}

func (r *cliReporter) Measure(name, value string) { fmt.Fprintf(r.w, "      %s: %s\n", name, value) }

func (r *cliReporter) Timeline(name string, tl *timeline.Timeline) {
	where := "(--artifacts DIR writes it as JSON)"
	if r.dir != "" {
		step := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(r.step), "-"), "-")
		if len(step) > 80 {
			step = step[:80]
		}
		path := filepath.Join(r.dir, step, name+".timeline.json")
		if err := tl.WriteFile(path); err != nil {
			where = fmt.Sprintf("(not written: %v)", err)
		} else {
			where = "→ " + path
		}
	}
	fmt.Fprintf(r.w, "      timeline %s: %s, %d series, %d markers %s\n", name, tl.Title, len(tl.Series), len(tl.Markers), where)
}

// checkKubeconfig refuses a --kubeconfig that is missing, unreadable or
// names no cluster: wrong input, said before anything is attempted. A
// cluster that does not answer is found by lab.Attach (a runtime failure).
func checkKubeconfig(path string) error {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return usagef("--kubeconfig %s: %w; give the kubeconfig of a running cluster (e.g. $(nodelab kubeconfig))", path, err)
	}
	if _, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig(); err != nil {
		return usagef("--kubeconfig %s: %w; give the kubeconfig of a running cluster (e.g. $(nodelab kubeconfig))", path, err)
	}
	return nil
}
