package report

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// TestWriteSampleReport writes a complete report (JUnit, HTML, two plots,
// one bundle) to $NODELAB_REPORT_SAMPLE, so `make report-sample
// report-check` can render it in headless Chromium without a lab. It is
// skipped when the variable is unset.
func TestWriteSampleReport(t *testing.T) {
	dir := os.Getenv("NODELAB_REPORT_SAMPLE")
	if dir == "" {
		t.Skip("NODELAB_REPORT_SAMPLE not set (make report-sample sets it)")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := fakeRun(t, dir)
	// A memory timeline like the memory scenarios attach: working set
	// climbing to the limit, an eviction marker.
	start := time.Date(2026, 11, 24, 5, 10, 0, 0, time.UTC)
	rec := timeline.NewRecorder("memory of stress/app", "MiB", start)
	for i := 0; i <= 60; i++ {
		at := start.Add(time.Duration(i) * time.Second)
		ws := math.Min(40+float64(i)*3, 200)
		rec.Sample("working_set", at, ws)
		rec.Sample("usage", at, ws+25)
		rec.Sample("limit", at, 256)
		rec.Sample("eviction threshold", at, 180)
	}
	rec.Mark(start.Add(47*time.Second), "evicted", "stress/app (memory)")
	rel := "memory-pressure/eviction/memory.timeline.json"
	if err := rec.Build(time.Second, start.Add(60*time.Second)).WriteFile(filepath.Join(dir, rel)); err != nil {
		t.Fatal(err)
	}
	r.SpecReports = append(r.SpecReports, types.SpecReport{
		ContainerHierarchyTexts: []string{"memory-pressure"}, LeafNodeText: "eviction", LeafNodeType: types.NodeTypeIt,
		LeafNodeLabels: []string{"scenario:memory-pressure"}, State: types.SpecStatePassed, RunTime: 61 * time.Second,
		ReportEntries: types.ReportEntries{entry(EntryArtifact, rel)},
	})
	if err := WriteJUnit(r, filepath.Join(dir, "junit_e2e.xml"), dir); err != nil {
		t.Fatal(err)
	}
	out, err := WriteHTML(r, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sample report: %s", out)
}
