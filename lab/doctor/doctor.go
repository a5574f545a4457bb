// Package doctor checks that a host can run nodelab labs, and prints one
// line per check the way libvirt's virt-host-validate does:
//
//	Docker engine reachable                  : PASS
//	KVM device (/dev/kvm)                    : WARN (absent: ...; KubeVirt scenarios will skip)
//
// FAIL means a lab cannot work; WARN means some scenarios will skip or the
// check could not be made, and says why and what to do. Every check reads
// the host through an Env, so tests cover each outcome without touching
// the machine they run on. It never pulls an image.
package doctor

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nodelab/nodelab/lab/images"
)

// Status is the outcome of one check.
type Status string

const (
	// Pass means the host meets the need.
	Pass Status = "PASS"
	// Warn means a lab can run but some scenarios will skip, or the check
	// could not be made; the detail says which and what to do.
	Warn Status = "WARN"
	// Fail means labs cannot run until the detail's advice is followed.
	Fail Status = "FAIL"
)

// Check is one line of the report.
type Check struct {
	// Name is what was checked, e.g. "Docker engine reachable".
	Name string
	// Status is PASS, WARN or FAIL.
	Status Status
	// Detail is what was observed; for WARN and FAIL also what to do.
	Detail string
}

// Report is the result of Run, one Check per line, in a fixed order.
type Report struct {
	// Checks are the results, in the order Run makes them.
	Checks []Check
}

// Failed reports whether any check failed.
func (r Report) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// nameWidth aligns the status column as virt-host-validate does.
const nameWidth = 40

// Write prints one line per check: PASS alone, WARN and FAIL with their
// detail in parentheses.
func (r Report) Write(w io.Writer) error {
	return r.write(w, false)
}

// WriteVerbose is Write with the detail of passed checks too (versions,
// sizes, how a feature was found).
func (r Report) WriteVerbose(w io.Writer) error {
	return r.write(w, true)
}

func (r Report) write(w io.Writer, verbose bool) error {
	for _, c := range r.Checks {
		line := fmt.Sprintf("  %-*s : %s", nameWidth, c.Name, c.Status)
		if c.Detail != "" && (c.Status != Pass || verbose) {
			line += " (" + c.Detail + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return fmt.Errorf("write doctor report: %w", err)
		}
	}
	return nil
}

// Options configure Run.
type Options struct {
	// Env is how the host is read; nil means this machine (HostEnv).
	Env *Env
	// NodeImage is the image tried first for the privileged-container
	// check; default images.ForgeNodeImage. It is never pulled.
	NodeImage string
	// CommandTimeout bounds each command a check runs; default 30s.
	CommandTimeout time.Duration
}

// Run makes every check and returns the report. It does not stop at a
// failure: the point is to list everything to fix at once.
func Run(ctx context.Context, opts Options) Report {
	env := opts.Env
	if env == nil {
		env = HostEnv()
	}
	if opts.NodeImage == "" {
		opts.NodeImage = images.ForgeNodeImage
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = defaultCommandTimeout
	}
	env = env.withTimeout(opts.CommandTimeout)

	reach, engine := checkDocker(ctx, env)
	checks := []Check{
		reach,
		checkPrivileged(ctx, env, engine, opts.NodeImage),
		checkCgroupVersion(env, engine),
		checkInotify(env, "max_user_watches", minInotifyWatches),
		checkInotify(env, "max_user_instances", minInotifyInstances),
		checkMemory(env),
		checkDisk(env, engine),
	}
	for _, f := range kernelFeatures {
		checks = append(checks, checkKernelFeature(env, f))
	}
	checks = append(checks, checkKVM(env), checkDebootstrap(env))
	return Report{Checks: checks}
}
