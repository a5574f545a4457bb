package e2e

import (
	"fmt"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2"
)

// The label registry. Every label a spec carries must be here, with what it
// means; TestLabelsAreRegistered (a dry run of the whole tree) fails on any
// other. Filter with `ginkgo --label-filter` or `make e2e LABELS=...`.
var registered = map[string]string{}

func register(label, meaning string) ginkgo.Labels {
	registered[label] = meaning
	return ginkgo.Label(label)
}

var (
	// ScenarioLab selects the smoke scenario `lab`.
	ScenarioLab = register("scenario:lab", "smoke test of the lab itself")
	// Lifecycle selects specs about creating and deleting labs (nodelab up/down).
	Lifecycle = register("lifecycle", "lab creation, interruption and deletion through the nodelab CLI")
	// ScenarioMemoryPressure selects the scenario `memory-pressure`.
	ScenarioMemoryPressure = register("scenario:memory-pressure", "kubelet eviction under StressChaos memory pressure; QoS ordering")
	// ScenarioCgroupAccounting selects the scenario `cgroup-accounting`.
	ScenarioCgroupAccounting = register("scenario:cgroup-accounting", "container memory as the kernel and kubelet count it: free vs cgroup, working_set, OOM kill, QoS")
	// ScenarioRedisPortForward selects the scenario `redis-port-forward`.
	ScenarioRedisPortForward = register("scenario:redis-port-forward", "redis-cluster MOVED redirects behind kubectl port-forward, and two fixes")
	// ScenarioIngressRollout selects the scenario `ingress-rollout`.
	ScenarioIngressRollout = register("scenario:ingress-rollout", "zero-downtime ingress-controller rollouts behind an AWS-NLB-like L4 proxy")
	// ScenarioMultusNetwork selects the scenario `multus-network`.
	ScenarioMultusNetwork = register("scenario:multus-network", "Multus secondary networks: NetworkPolicy misses net1, MultiNetworkPolicy covers it")
	// NeedsMultus marks specs that install the multus addon.
	NeedsMultus = register("needs:multus", "installs Multus (thin mode) and attaches pods to a bridge NetworkAttachmentDefinition")
	// AddonChaosMesh selects the Chaos Mesh addon's own smoke specs.
	AddonChaosMesh = register("addon:chaos-mesh", "the Chaos Mesh addon installs and injects/recovers a StressChaos cleanly")
	// Slow marks specs that take more than a minute.
	Slow = register("slow", "takes more than a minute")
	// Disruptive marks specs that change nodes or the host (kubelet restarts, extra clusters).
	Disruptive = register("disruptive", "changes node or host state; runs Serial")
	// serial is what ginkgo's Serial decorator adds to a spec's labels.
	_ = register("Serial", "ginkgo.Serial: the spec runs alone, never in parallel")
)

// registeredLabels lists the registry for messages.
func registeredLabels() string {
	var l []string
	for k := range registered {
		l = append(l, k)
	}
	sort.Strings(l)
	return strings.Join(l, ", ")
}

// unregistered returns the labels of specs not in the registry.
func unregistered(report ginkgo.Report) []string {
	var bad []string
	for _, s := range report.SpecReports {
		for _, l := range s.Labels() {
			if _, ok := registered[l]; !ok {
				bad = append(bad, fmt.Sprintf("%q on %q", l, s.FullText()))
			}
		}
	}
	return bad
}
