// Package scenarios is the catalog of nodelab scenarios: their IDs, labels,
// requirements and typical durations, and the steps the CLI runs without
// ginkgo. Each scenario's runbook lives in its own package below this one.
package scenarios

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images"
)

// Info describes a scenario.
type Info struct {
	// ID is kebab-case and used everywhere: CLI argument, ginkgo label
	// scenario:<id>, namespace prefix, artifacts folder.
	ID string
	// Summary is one line: the pitfall and the fix.
	Summary string
	// Labels are the ginkgo labels besides scenario:<id> (cost, requirements).
	Labels []string
	// Requires lists host or lab requirements ("needs:kvm"); empty if none.
	Requires []string
	// Typical is the typical duration on a 2-core host with a warm lab.
	Typical time.Duration
	// Addons are the lab addons the runbook installs (lab/addon names), and
	// Images the other images it loads onto the nodes. The e2e suite starts
	// building both for the specs it selected as soon as it starts, so an
	// offline lab does not wait for them in the middle of a spec.
	Addons []string
	Images []images.Image
}

// Label is the ginkgo label that selects the scenario.
func (i Info) Label() string { return "scenario:" + i.ID }

// Step is one runbook step: it returns an error saying what was observed.
type Step struct {
	Name string
	// Typical is the step's measured duration on a 2-core host with a warm
	// lab (0: not measured); `nodelab scenarios --steps` lists it.
	Typical time.Duration
	Run     func(ctx context.Context) error
}

// Scenario is a registered scenario.
type Scenario struct {
	Info
	// Steps returns the runbook bound to a lab, with a cleanup to run after.
	Steps func(l *lab.Lab) (steps []Step, cleanup func(context.Context) error)
}

var registry = map[string]Scenario{}

// Register adds a scenario; scenario packages call it from init.
func Register(s Scenario) {
	if _, dup := registry[s.ID]; dup {
		panic("scenario registered twice: " + s.ID)
	}
	registry[s.ID] = s
}

// All returns the registered scenarios sorted by ID.
func All() []Scenario {
	out := make([]Scenario, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get returns a scenario by ID, or an error listing the known IDs.
func Get(id string) (Scenario, error) {
	s, ok := registry[id]
	if !ok {
		var ids []string
		for _, s := range All() {
			ids = append(ids, s.ID)
		}
		return Scenario{}, fmt.Errorf("unknown scenario %q: known scenarios are %s (see `nodelab scenarios`)", id, strings.Join(ids, ", "))
	}
	return s, nil
}
