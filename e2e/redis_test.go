package e2e

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/portforward"
	"github.com/nodelab/nodelab/scenarios/redisportforward"
)

// Scenario `redis-port-forward` (runbook: scenarios/redisportforward).
var _ = ginkgo.Describe("redis-port-forward", ScenarioRedisPortForward, Slow, ginkgo.Ordered, func() {
	var r *redisportforward.Runbook

	ginkgo.BeforeAll(func(ctx ginkgo.SpecContext) {
		r = redisportforward.New(theLab, theAddons)
		r.Log = reportLog("redis-port-forward")
		// Registered before the Cleanup below, so it runs after it (LIFO), in
		// all cases, also when a spec failed and the Ordered container skipped
		// the rest: nothing this scenario started may outlive it.
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(portforward.Open()).To(gomega.BeZero(), "port-forwards still open after Cleanup")
			gomega.Expect(r.CheckNoLeaks(ctx)).To(gomega.Succeed(), "after Cleanup")
		}, ginkgo.NodeTimeout(time.Minute))
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(r.Cleanup(ctx)).To(gomega.Succeed())
		}, ginkgo.NodeTimeout(5*time.Minute))
		run(ctx, r.Deploy)
	}, ginkgo.NodeTimeout(20*time.Minute))

	ginkgo.It("pitfall: through one port-forward, MOVED names pod IPs the host cannot reach", func(ctx ginkgo.SpecContext) {
		run(ctx, r.PitfallOneForward)
	}, ginkgo.NodeTimeout(3*time.Minute))
	ginkgo.It("fix 1: an in-cluster client writes and reads 1000 keys on all three masters", func(ctx ginkgo.SpecContext) {
		run(ctx, r.FixInCluster)
	}, ginkgo.NodeTimeout(10*time.Minute))
	ginkgo.It("fix 2: every pod forwarded and a remapping Dialer: 1000 keys from the host", func(ctx ginkgo.SpecContext) {
		run(ctx, r.FixForwardEveryPod)
	}, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("fix 2 follows ASK redirects through a slot migration", func(ctx ginkgo.SpecContext) {
		run(ctx, r.FixSurvivesSlotMigration)
	}, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("fix 2 recovers from a master failover within the stated bound", func(ctx ginkgo.SpecContext) {
		ginkgo.DeferCleanup(func() {
			if r.FailoverTimeline != nil {
				attachTimeline(r.FailoverTimeline, "failover")
			}
		})
		run(ctx, r.FixSurvivesFailover)
		ginkgo.AddReportEntry("failover recovery", r.Recovered.Round(100*time.Millisecond).String())
	}, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("leaves no port-forward and no local port behind", func(ctx ginkgo.SpecContext) {
		run(ctx, r.NoForwardsLeft)
		gomega.Expect(portforward.Open()).To(gomega.BeZero())
	}, ginkgo.NodeTimeout(2*time.Minute))
})
