package e2e

import (
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2"

	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/catalog"
)

// The labels of the specs that are not scenarios (the scenarios' come from
// the catalog). Every label a spec carries must be in scenarios/labels.go or
// be a catalog scenario's scenario:<id>; a dry run of the whole tree (make
// test) fails on any other. Filter with `make e2e LABELS=...`.
var (
	// Lifecycle selects specs about creating and deleting labs (nodelab up/down).
	Lifecycle = ginkgo.Label(string(scenarios.Lifecycle))
	// Attach selects the attach-mode spec (the CLI on a cluster nodelab
	// did not create).
	Attach = ginkgo.Label(string(scenarios.Attach))
	// AddonChaosMesh selects the Chaos Mesh addon's own smoke specs.
	AddonChaosMesh = ginkgo.Label(string(scenarios.AddonChaosMesh))
	// Slow marks specs that take more than a minute.
	Slow = ginkgo.Label(string(scenarios.Slow))
	// Disruptive marks specs that change nodes or the host.
	Disruptive = ginkgo.Label(string(scenarios.Disruptive))
)

// registeredLabels lists the registry for messages.
func registeredLabels() string {
	return strings.Join(scenarios.SortedLabels(catalog.All()), ", ")
}

// unregistered returns the labels of specs not in the registry.
func unregistered(report ginkgo.Report) []string {
	known := scenarios.Labels(catalog.All())
	var bad []string
	for _, s := range report.SpecReports {
		for _, l := range s.Labels() {
			if _, ok := known[l]; !ok {
				bad = append(bad, fmt.Sprintf("%q on %q", l, s.FullText()))
			}
		}
	}
	return bad
}
