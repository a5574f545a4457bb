package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/onsi/ginkgo/v2"

	"github.com/nodelab/nodelab/e2e/report"
	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// flagFailSpec is test-only: specs whose full text matches fail after their
// body, so the failure path (bundle, JUnit link, report) can be exercised on
// a real lab without breaking a scenario.
var flagFailSpec = flag.String("nodelab.fail-spec", os.Getenv("NODELAB_FAIL_SPEC"), "TEST ONLY: fail every spec whose full text matches this regexp after its body (exercises failure bundles)")

// anyFailed is set when a spec failed, so the suite exports kind's logs once.
var anyFailed atomic.Bool

// specsReported is set once any spec reached ReportAfterEach. BeforeSuite
// runs only when a spec will run, so when the suite's cleanup finds it
// unset, BeforeSuite failed (or was interrupted): no AfterEach or
// ReportAfterEach ever sees that, and its logs are the ones most needed.
var specsReported atomic.Bool

// ReportAfterEach sees a spec's final state, failures in its cleanup
// included, which AfterEach does not.
var _ = ginkgo.ReportAfterEach(func(s ginkgo.SpecReport) {
	specsReported.Store(true)
	if s.Failed() {
		anyFailed.Store(true)
	}
})

var _ = ginkgo.JustAfterEach(func() {
	if *flagFailSpec == "" {
		return
	}
	re, err := regexp.Compile(*flagFailSpec)
	if err != nil {
		ginkgo.Fail(fmt.Sprintf("-nodelab.fail-spec: %v", err))
	}
	if s := ginkgo.CurrentSpecReport(); re.MatchString(s.FullText()) && !s.Failed() {
		ginkgo.Fail("failed on purpose by -nodelab.fail-spec=" + *flagFailSpec + " (test-only flag)")
	}
})

// A failed spec gets its bundle now, before the ordered containers' cleanup
// deletes the scenario's namespace.
var _ = ginkgo.AfterEach(func(ctx ginkgo.SpecContext) {
	s := ginkgo.CurrentSpecReport()
	if !s.Failed() || theLab == nil {
		return
	}
	anyFailed.Store(true)
	dir := filepath.Join(*flagArtifacts, report.SpecDir(s))
	start := time.Now()
	if err := report.CollectBundle(ctx, theLab, dir, s.StartTime, report.DefaultBundleLimits); err != nil {
		ginkgo.GinkgoWriter.Printf("failure bundle %s: %v\n", dir, err)
		return
	}
	ginkgo.GinkgoWriter.Printf("failure bundle: %s (%s)\n", dir, time.Since(start).Round(100*time.Millisecond))
}, ginkgo.NodeTimeout(3*time.Minute))

// exportLogsIfFailed is registered by BeforeSuite after the lab's deletion,
// so it runs before it: kind's log export, once, when a spec failed or
// BeforeSuite itself did not finish; capped at report.KindLogsBytes.
func exportLogsIfFailed(ctx context.Context) {
	if theLab == nil || theLab.Attached {
		return
	}
	why := "a spec failed"
	switch {
	case anyFailed.Load():
	case !specsReported.Load():
		why = "BeforeSuite did not finish (no spec ran)"
	default:
		return
	}
	dir := filepath.Join(*flagArtifacts, "kind-logs")
	if err := theLab.ExportLogs(dir); err != nil {
		ginkgo.GinkgoWriter.Printf("kind log export (%s): %v\n", why, err)
		return
	}
	before, after, err := report.CapTree(dir, report.KindLogsBytes)
	if err != nil {
		ginkgo.GinkgoWriter.Printf("kind logs %s: cap: %v\n", dir, err)
	}
	size := fmt.Sprintf("%.1f MB", float64(after)/1e6)
	if after < before {
		size += fmt.Sprintf(", cut from %.1f MB to the cap (see %s)", float64(before)/1e6, report.TrimNote)
	}
	ginkgo.GinkgoWriter.Printf("kind logs (%s): %s (%s)\n", why, dir, size)
}

// attachTimeline stores a timeline under the spec's artifacts folder and
// attaches it, so the report plots it.
func attachTimeline(tl *timeline.Timeline, name string) {
	ginkgo.GinkgoHelper()
	rel := filepath.Join(report.SpecDir(ginkgo.CurrentSpecReport()), name+".timeline.json")
	if err := tl.WriteFile(filepath.Join(*flagArtifacts, rel)); err != nil {
		ginkgo.GinkgoWriter.Printf("timeline %s: %v\n", rel, err)
		return
	}
	ginkgo.AddReportEntry(report.EntryArtifact, rel)
}
