package e2e

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/timeline"
	"github.com/nodelab/nodelab/scenarios/cgroupaccounting"
	"github.com/nodelab/nodelab/scenarios/memorypressure"
)

// reportLog sends a runbook's lines to the spec output and the report.
func reportLog(name string) func(format string, args ...any) {
	return func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		ginkgo.GinkgoWriter.Println(line)
		ginkgo.AddReportEntry(name, line)
	}
}

// Scenario `memory-pressure` (runbook: scenarios/memorypressure).
var _ = ginkgo.Describe("memory-pressure", ScenarioMemoryPressure, Slow, Disruptive, ginkgo.Serial, ginkgo.Ordered, func() {
	var r *memorypressure.Runbook

	ginkgo.BeforeAll(func(ctx ginkgo.SpecContext) {
		requireKindNodes()
		r = memorypressure.New(theLab, theAddons)
		r.Log = reportLog("memory-pressure")
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(r.Cleanup(ctx)).To(gomega.Succeed())
		}, ginkgo.NodeTimeout(8*time.Minute))
		run(ctx, r.Prepare)
	}, ginkgo.NodeTimeout(45*time.Minute))

	ginkgo.It("pitfall: an 8 MiB BestEffort app is evicted first when a prioritised neighbour causes MemoryPressure", func(ctx ginkgo.SpecContext) {
		ginkgo.DeferCleanup(func() { attachTimelineIfAny(r.Timelines["pitfall"], "memory") })
		run(ctx, r.PitfallBestEffortEvicted)
	}, ginkgo.NodeTimeout(10*time.Minute))

	ginkgo.It("fix: requests == limits survives; over-request, BestEffort, then the hog are evicted; pressure clears and stays clear", func(ctx ginkgo.SpecContext) {
		ginkgo.DeferCleanup(func() { attachTimelineIfAny(r.Timelines["fix"], "memory") })
		run(ctx, r.FixGuaranteedSurvives)
	}, ginkgo.NodeTimeout(12*time.Minute))

	ginkgo.It("leaves no stressor process on any node", func(ctx ginkgo.SpecContext) {
		run(ctx, r.NoStressorLeft)
	}, ginkgo.NodeTimeout(3*time.Minute))
})

// attachTimelineIfAny attaches tl when the step got far enough to record
// one; a skipped spec recorded nothing of its own.
func attachTimelineIfAny(tl *timeline.Timeline, name string) {
	if tl != nil && !ginkgo.CurrentSpecReport().State.Is(types.SpecStateSkipped) {
		attachTimeline(tl, name)
	}
}

// Scenario `cgroup-accounting` (runbook: scenarios/cgroupaccounting).
var _ = ginkgo.Describe("cgroup-accounting", ScenarioCgroupAccounting, Slow, ginkgo.Ordered, func() {
	var r *cgroupaccounting.Runbook

	ginkgo.BeforeAll(func(ctx ginkgo.SpecContext) {
		requireKindNodes()
		r = cgroupaccounting.New(theLab, theAddons)
		r.Log = reportLog("cgroup-accounting")
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(r.Cleanup(ctx)).To(gomega.Succeed())
		}, ginkgo.NodeTimeout(5*time.Minute))
		run(ctx, r.Prepare)
	}, ginkgo.NodeTimeout(45*time.Minute))

	ginkgo.It("pitfall: free and /proc/meminfo in a 500Mi container report the host's memory", func(ctx ginkgo.SpecContext) {
		run(ctx, r.PitfallMeminfoShowsHost)
	}, ginkgo.NodeTimeout(2*time.Minute))
	ginkgo.It("fix: the cgroup files report the container; kubelet working_set = usage − inactive_file; a StressChaos grows it by its size", func(ctx ginkgo.SpecContext) {
		ginkgo.DeferCleanup(func() { attachTimelineIfAny(r.Timeline(), "memory") })
		run(ctx, r.FixCgroupTellsTheTruth)
	}, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("beyond the limit: a cgroup OOM kill (not an eviction); stressor at oom_score_adj 1000 is the victim", func(ctx ginkgo.SpecContext) {
		ginkgo.DeferCleanup(func() { attachTimelineIfAny(r.Timeline(), "memory") })
		run(ctx, r.BeyondLimitStressorKilled)
	}, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("beyond the limit: stressor at oom_score_adj −1000, the app container is OOMKilled (exit 137)", func(ctx ginkgo.SpecContext) {
		ginkgo.DeferCleanup(func() { attachTimelineIfAny(r.Timeline(), "memory") })
		run(ctx, r.BeyondLimitAppKilled)
	}, ginkgo.NodeTimeout(5*time.Minute))
	ginkgo.It("QoS classes and the oom_score_adj the kubelet asked for (clamping reported)", func(ctx ginkgo.SpecContext) {
		run(ctx, r.QoSAndOOMScoreAdj)
	}, ginkgo.NodeTimeout(2*time.Minute))
	ginkgo.It("leaves no stressor process on any node; the app's memory is back to its baseline", func(ctx ginkgo.SpecContext) {
		run(ctx, r.NoStressorLeft)
	}, ginkgo.NodeTimeout(3*time.Minute))
})
