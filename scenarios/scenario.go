// Package scenarios defines what a nodelab scenario is: its description
// (ID, summary, labels, requirements, timeout table) and its runbook, the
// ordered steps that both the e2e suite (one generic driver) and the CLI
// (`nodelab run`) execute. The list of scenarios is in scenarios/catalog;
// each runbook lives in its own package below this one.
package scenarios

import (
	"context"
	"time"

	"github.com/nodelab/nodelab/lab/images"
)

// Info describes a scenario.
type Info struct {
	// ID is kebab-case and used everywhere: CLI argument, ginkgo label
	// scenario:<id>, namespace prefix, artifacts folder.
	ID string
	// Summary is one line: the pitfall and the fix.
	Summary string
	// Labels are the ginkgo labels besides scenario:<id> (cost, what it
	// installs); each is a constant of labels.go. Disruptive specs run Serial.
	Labels []Label
	// Needs are the requirements the drivers check before the first step;
	// an unmet one skips the whole scenario with the measured reason.
	Needs []Need
	// Requires lists, for people, what the scenario needs from the host or
	// the lab (shown by `nodelab scenarios`); steps measure the rest.
	Requires []string
	// Typical is the typical duration on a 2-core host with a warm lab.
	Typical time.Duration
	// Addons are the lab addons the runbook installs (lab/addon names), and
	// Images the other images it loads onto the nodes. The e2e suite starts
	// building both for the specs it selected as soon as it starts, so an
	// offline lab does not wait for them in the middle of a spec.
	Addons []string
	Images []images.Image
	// Shard is the GitHub CI shard the scenario runs in (its ID when
	// empty): scenarios that install the same expensive addon share one,
	// and so one lab.
	Shard string
}

// Label is the ginkgo label that selects the scenario.
func (i Info) Label() string { return "scenario:" + i.ID }

// Side says which half of the proof a step is.
type Side string

const (
	// Setup steps prepare the scenario; the e2e driver runs them in the
	// Ordered container's BeforeAll, so a failure skips the rest.
	Setup Side = "setup"
	// Pitfall steps reproduce the problem (the negative control).
	Pitfall Side = "pitfall"
	// Fix steps verify the fix.
	Fix Side = "fix"
	// Check steps verify anything else: the lab itself, what is left after.
	Check Side = "check"
)

// Step is one runbook step: it returns an error saying what was observed,
// or a NotApplicable with the measured reason it cannot run here.
type Step struct {
	Side Side
	// Name is the spec's text in ginkgo and JUnit, and the CLI's step name.
	Name string
	// Timeout comes from the scenario's timeout table (unscaled; the
	// drivers multiply it by Env.Scale).
	Timeout time.Duration
	// Typical is the step's measured duration on a 2-core host with a warm
	// lab (0: not measured); `nodelab scenarios --steps` lists it.
	Typical time.Duration
	Run     func(ctx context.Context) error
}

// Runbook is a scenario bound to an environment.
type Runbook struct {
	// Steps run in order; the first failure stops the rest.
	Steps []Step
	// Cleanup always runs after the steps (Run may be nil).
	Cleanup Step
	// LeakChecks always run after Cleanup: nothing the scenario started
	// may outlive it.
	LeakChecks []Step
}

// Scenario is one entry of the catalog.
type Scenario struct {
	Info
	// Runbook binds the runbook to env. It must do no work (no API call):
	// the drivers call it with an empty Env to list the steps and their
	// timeouts before any lab exists.
	Runbook func(env Env) Runbook
}

// Steps lists the scenario's steps without an environment (names, sides,
// timeouts; not runnable).
func (s Scenario) Steps() Runbook { return s.Runbook(Env{}) }
