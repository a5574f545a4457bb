package e2e

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/scenarios/multusnetwork"
)

// Scenario `multus-network` (runbook: scenarios/multusnetwork).
var _ = ginkgo.Describe("multus-network", ScenarioMultusNetwork, NeedsMultus, ginkgo.Ordered, func() {
	var r *multusnetwork.Runbook

	ginkgo.BeforeAll(func(ctx ginkgo.SpecContext) {
		r = multusnetwork.New(theLab, theAddons)
		r.Log = reportLog("multus-network")
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(r.Cleanup(ctx)).To(gomega.Succeed())
		}, ginkgo.NodeTimeout(5*time.Minute))
		run(ctx, r.Deploy)
	}, ginkgo.NodeTimeout(10*time.Minute))

	ginkgo.It("pods get net1 from 10.10.0.0/24, traffic flows over it, eth0 and the host's routes are untouched", func(ctx ginkgo.SpecContext) {
		run(ctx, r.SecondaryNetwork)
	}, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("pitfall: a deny-ingress NetworkPolicy stops eth0 but not net1", func(ctx ginkgo.SpecContext) {
		run(ctx, r.PitfallPolicyMissesNet1)
	}, ginkgo.NodeTimeout(6*time.Minute))
	ginkgo.It("fix: a MultiNetworkPolicy for the NAD: ingress only from 10.10.0.0/24, egress only to one /32, MULTI-* chains in the pod", func(ctx ginkgo.SpecContext) {
		run(ctx, r.FixMultiNetworkPolicy)
	}, ginkgo.NodeTimeout(6*time.Minute))
	ginkgo.It("secondary traffic stays on the lab's bridges: no route to 10.10.0.0/24 on the host or any node", func(ctx ginkgo.SpecContext) {
		run(ctx, r.NoRangeRoutes)
	}, ginkgo.NodeTimeout(2*time.Minute))
})
