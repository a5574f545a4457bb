package e2e

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/scenarios/ingressrollout"
)

// Scenario `ingress-rollout` (runbook: scenarios/ingressrollout).
var _ = ginkgo.Describe("ingress-rollout", ScenarioIngressRollout, Slow, ginkgo.Ordered, func() {
	var r *ingressrollout.Runbook

	ginkgo.BeforeAll(func(ctx ginkgo.SpecContext) {
		r = ingressrollout.New(theLab, theAddons)
		r.Log = reportLog("ingress-rollout")
		// Registered before Cleanup, so it runs after it (LIFO), in all
		// cases: nothing the scenario started may outlive it.
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(r.CheckNoLeaks(ctx)).To(gomega.Succeed(), "after Cleanup")
		}, ginkgo.NodeTimeout(time.Minute))
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(r.Cleanup(ctx)).To(gomega.Succeed())
		}, ginkgo.NodeTimeout(5*time.Minute))
		run(ctx, r.Deploy)
	}, ginkgo.NodeTimeout(40*time.Minute)) // a cold forge build of traefik included

	// step runs one side, then reports what it measured and plots it.
	step := func(ctx ginkgo.SpecContext, name string, f func(context.Context) error) {
		r.Timeline, r.Last = nil, nil
		ginkgo.DeferCleanup(func() {
			attachTimelineIfAny(r.Timeline, name)
			if o := r.Last; o != nil {
				ginkgo.AddReportEntry("requests", fmt.Sprintf("%d sent, %d failed, %d rollout(s): %s", len(o.Result.Requests), o.Result.Failed(), o.Rollouts, o.Result.Summary()))
			}
		})
		run(ctx, f)
	}

	ginkgo.It("pitfall (instance targets): one rollout of Traefik as commonly deployed fails requests, each classified and attributed", func(ctx ginkgo.SpecContext) {
		step(ctx, "pitfall-instance", r.PitfallInstance)
	}, ginkgo.NodeTimeout(8*time.Minute))
	ginkgo.It("fix (instance targets): preStop, grace, surge-only rollout, minReadySeconds: 0 failed requests over 3 rollouts", func(ctx ginkgo.SpecContext) {
		step(ctx, "fix-instance", r.FixInstance)
	}, ginkgo.NodeTimeout(12*time.Minute))
	ginkgo.It("pitfall (ip targets): one rollout of Traefik as commonly deployed fails requests, each classified and attributed", func(ctx ginkgo.SpecContext) {
		step(ctx, "pitfall-ip", r.PitfallIP)
	}, ginkgo.NodeTimeout(8*time.Minute))
	ginkgo.It("fix (ip targets): preStop, grace, surge-only rollout, readiness gate: 0 failed requests over 3 rollouts", func(ctx ginkgo.SpecContext) {
		step(ctx, "fix-ip", r.FixIP)
	}, ginkgo.NodeTimeout(12*time.Minute))
})
