// Package catalog is the one list of nodelab scenarios. Adding a scenario
// is one line here (plus its runbook package and fixtures): the e2e suite,
// the CLI, CI's label lists and the README table all come from All.
package catalog

import (
	"fmt"
	"strings"

	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/cgroupaccounting"
	"github.com/nodelab/nodelab/scenarios/cpumanager"
	"github.com/nodelab/nodelab/scenarios/imagefsstats"
	"github.com/nodelab/nodelab/scenarios/ingressrollout"
	"github.com/nodelab/nodelab/scenarios/ipleak"
	"github.com/nodelab/nodelab/scenarios/labsmoke"
	"github.com/nodelab/nodelab/scenarios/memorypressure"
	"github.com/nodelab/nodelab/scenarios/multusnetwork"
	"github.com/nodelab/nodelab/scenarios/nginxdnscache"
	"github.com/nodelab/nodelab/scenarios/oomevents"
	"github.com/nodelab/nodelab/scenarios/redisportforward"
)

// All returns every scenario, in the order the README lists them.
func All() []scenarios.Scenario {
	return []scenarios.Scenario{
		labsmoke.Scenario,
		memorypressure.Scenario,
		cgroupaccounting.Scenario,
		redisportforward.Scenario,
		ingressrollout.Scenario,
		multusnetwork.Scenario,
		imagefsstats.Scenario,
		ipleak.Scenario,
		cpumanager.Scenario,
		nginxdnscache.Scenario,
		oomevents.Scenario,
	}
}

// Get returns a scenario by ID, or an error listing the known IDs.
func Get(id string) (scenarios.Scenario, error) {
	var ids []string
	for _, s := range All() {
		if s.ID == id {
			return s, nil
		}
		ids = append(ids, s.ID)
	}
	return scenarios.Scenario{}, fmt.Errorf("unknown scenario %q: known scenarios are %s (see `nodelab scenarios`)", id, strings.Join(ids, ", "))
}
