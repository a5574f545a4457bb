package e2e

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	labscenario "github.com/nodelab/nodelab/scenarios/lab"
)

// Scenario `lab`: the smoke test of the lab (runbook: scenarios/lab).
var _ = ginkgo.Describe("lab", ScenarioLab, ginkgo.Ordered, func() {
	var r *labscenario.Runbook

	ginkgo.BeforeAll(func() {
		r = labscenario.New(theLab)
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(r.Cleanup(ctx)).To(gomega.Succeed())
		}, ginkgo.NodeTimeout(5*time.Minute))
	})

	ginkgo.It("all nodes are Ready", func(ctx ginkgo.SpecContext) { run(ctx, r.NodesReady) }, ginkgo.NodeTimeout(10*time.Minute))
	ginkgo.It("probes start on two different nodes", func(ctx ginkgo.SpecContext) { run(ctx, r.DeployProbes) }, ginkgo.NodeTimeout(10*time.Minute))
	ginkgo.It("pod-to-pod traffic crosses nodes", func(ctx ginkgo.SpecContext) { run(ctx, r.PodToPodAcrossNodes) }, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("CoreDNS answers", func(ctx ginkgo.SpecContext) { run(ctx, r.CoreDNSAnswers) }, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("a ClusterIP Service spreads requests over both backends", func(ctx ginkgo.SpecContext) { run(ctx, r.ServiceSpreads) }, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("the profile's kubelet settings are in each node's /configz", func(ctx ginkgo.SpecContext) { run(ctx, r.KubeletConfigApplied) }, ginkgo.NodeTimeout(5*time.Minute))
})
