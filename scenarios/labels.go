package scenarios

import "sort"

// Label is a ginkgo label. Every label a spec carries is one of these (or
// scenario:<id>), with its meaning in Labels; a dry run of the e2e tree
// fails on any other.
type Label string

const (
	// Slow marks specs that take more than a minute.
	Slow Label = "slow"
	// Disruptive marks specs that change nodes or the host (kubelet
	// restarts, extra clusters); they run Serial.
	Disruptive Label = "disruptive"
	// NeedsMultus marks specs that install the multus addon.
	NeedsMultus Label = "needs:multus"
	// Lifecycle selects specs about creating and deleting labs.
	Lifecycle Label = "lifecycle"
	// Attach selects the spec that runs the CLI against a kind cluster
	// nodelab did not create, reached with and without Docker.
	Attach Label = "attach"
	// AddonChaosMesh selects the Chaos Mesh addon's own smoke specs.
	AddonChaosMesh Label = "addon:chaos-mesh"
	// Serial is what ginkgo's Serial decorator adds to a spec's labels.
	Serial Label = "Serial"
)

// labelMeanings is the registry besides the scenario:<id> labels.
var labelMeanings = map[Label]string{
	Slow:           "takes more than a minute",
	Disruptive:     "changes node or host state; runs Serial",
	NeedsMultus:    "installs Multus (thin mode) and attaches pods to a bridge NetworkAttachmentDefinition",
	Lifecycle:      "lab creation, interruption and deletion through the nodelab CLI",
	Attach:         "the CLI on a cluster nodelab did not create (made with kind's library), through Docker and through node agents with Docker hidden; nothing of nodelab left afterwards",
	AddonChaosMesh: "the Chaos Mesh addon installs and injects/recovers a StressChaos cleanly",
	Serial:         "ginkgo.Serial: the spec runs alone, never in parallel",
}

// Labels returns every label with its meaning: the fixed ones and one
// scenario:<id> per scenario given (the catalog).
func Labels(all []Scenario) map[string]string {
	out := map[string]string{}
	for l, m := range labelMeanings {
		out[string(l)] = m
	}
	for _, s := range all {
		out[s.Label()] = s.Summary
	}
	return out
}

// SortedLabels returns the keys of Labels(all), sorted.
func SortedLabels(all []Scenario) []string {
	var l []string
	for k := range Labels(all) {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}
