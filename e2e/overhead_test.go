package e2e

import (
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// processStart is when the test binary started: the harness's overhead
// includes the preview of the run and flag parsing before the suite.
var processStart = time.Now()

// harnessOverhead says how much time the suite spent outside the specs
// that ran (lab up or reuse, addon checks, cleanup, reports), the number a
// focused rerun on a retained lab (make e2e RETAIN=1 FOCUS=...) pays on
// top of its spec; `go test`'s own build and link come before it and are
// not counted.
func harnessOverhead(r ginkgo.Report, end time.Time) string {
	var specs, setup, cleanup time.Duration
	n := 0
	for _, s := range r.SpecReports {
		switch {
		case s.LeafNodeType == types.NodeTypeIt:
			if !s.State.Is(types.SpecStateSkipped | types.SpecStatePending) {
				specs += s.RunTime
				n++
			}
		case s.LeafNodeType.Is(types.NodeTypeBeforeSuite | types.NodeTypeSynchronizedBeforeSuite):
			setup += s.RunTime
		case s.LeafNodeType.Is(types.NodeTypeAfterSuite | types.NodeTypeSynchronizedAfterSuite | types.NodeTypeCleanupAfterSuite):
			cleanup += s.RunTime
		}
	}
	total := end.Sub(processStart)
	over := total - specs
	r1 := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
	return fmt.Sprintf("harness overhead: %s above the %d specs' own %s (process %s: suite setup %s, cleanup after the suite %s, the rest %s)",
		r1(over), n, r1(specs), r1(total), r1(setup), r1(cleanup), r1(over-setup-cleanup))
}
