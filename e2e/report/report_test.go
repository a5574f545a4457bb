package report

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

func entry(name, value string) types.ReportEntry {
	return types.ReportEntry{Name: name, Value: types.WrapEntryValue(value)}
}

// fakeRun is a run with one passed (with a timeline), one skipped and one
// failed spec, and a lab fact from BeforeSuite.
func fakeRun(t *testing.T, artifacts string) types.Report {
	t.Helper()
	start := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	rec := timeline.NewRecorder("writes during failover", "writes/s", start)
	for i := 0; i < 20; i++ {
		rec.Event("ok", start.Add(time.Duration(i)*250*time.Millisecond))
	}
	rec.Event("failed", start.Add(2*time.Second))
	rec.Mark(start.Add(1500*time.Millisecond), "pod-deleted", "redis-2")
	tlPath := "redis-port-forward/failover/failover.timeline.json"
	if err := rec.Build(500*time.Millisecond, start.Add(5*time.Second)).WriteFile(filepath.Join(artifacts, tlPath)); err != nil {
		t.Fatal(err)
	}
	labels := []string{"scenario:redis-port-forward"}
	specs := types.SpecReports{
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed,
			ReportEntries: types.ReportEntries{entry("lab.kernel", "6.1.0-test"), entry("lab.cgroupVersion", "1")}},
		{ContainerHierarchyTexts: []string{"redis-port-forward"}, LeafNodeText: "failover", LeafNodeType: types.NodeTypeIt,
			LeafNodeLabels: labels, State: types.SpecStatePassed, RunTime: 9 * time.Second,
			ReportEntries: types.ReportEntries{entry(EntryArtifact, tlPath)}},
		{ContainerHierarchyTexts: []string{"multus"}, LeafNodeText: "MultiNetworkPolicy fix", LeafNodeType: types.NodeTypeIt,
			State: types.SpecStateSkipped, Failure: types.Failure{Message: "requires the multi-networkpolicy-iptables image (not buildable offline)"}},
		{ContainerHierarchyTexts: []string{"redis-port-forward"}, LeafNodeText: "pitfall: MOVED", LeafNodeType: types.NodeTypeIt,
			LeafNodeLabels: labels, State: types.SpecStateFailed, Failure: types.Failure{Message: "expected MOVED, got OK"}},
	}
	// The failed spec has a bundle.
	bundleDir := filepath.Join(artifacts, SpecDir(specs[3]))
	if err := os.MkdirAll(bundleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundleDir, "index.txt"), []byte("index"), 0o644); err != nil {
		t.Fatal(err)
	}
	return types.Report{SuiteDescription: "nodelab e2e", SuiteSucceeded: false, SpecReports: specs}
}

// The Kubernetes framework's "test our own JUnit" pattern: what CI shows
// must carry the skip reason, the failure message with the bundle path,
// and the lab's facts.
func TestJUnitCarriesSkipReasonFailureBundleAndLabFacts(t *testing.T) {
	artifacts := t.TempDir()
	r := fakeRun(t, artifacts)
	path := filepath.Join(artifacts, "junit_e2e.xml")
	if err := WriteJUnit(r, path, artifacts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var suites reporters.JUnitTestSuites
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, b)
	}
	if len(suites.TestSuites) != 1 {
		t.Fatalf("suites = %d", len(suites.TestSuites))
	}
	var skipped, failed *reporters.JUnitTestCase
	for i, tc := range suites.TestSuites[0].TestCases {
		switch {
		case tc.Skipped != nil:
			skipped = &suites.TestSuites[0].TestCases[i]
		case tc.Failure != nil:
			failed = &suites.TestSuites[0].TestCases[i]
		}
	}
	if skipped == nil || !strings.Contains(skipped.Skipped.Message, "multi-networkpolicy-iptables image (not buildable offline)") {
		t.Errorf("skipped testcase = %+v, want the exact skip reason in <skipped>", skipped)
	}
	wantBundle := filepath.Join(artifacts, "redis-port-forward", "pitfall-moved")
	if failed == nil || !strings.Contains(failed.Failure.Message, "expected MOVED, got OK") || !strings.Contains(failed.Failure.Message, "failure bundle: "+wantBundle) {
		t.Errorf("failed testcase = %+v, want its message and 'failure bundle: %s'", failed, wantBundle)
	}
	props := map[string]string{}
	for _, p := range suites.TestSuites[0].Properties.Properties {
		props[p.Name] = p.Value
	}
	if props["lab.kernel"] != "6.1.0-test" || props["lab.cgroupVersion"] != "1" {
		t.Errorf("suite properties = %v, want lab.kernel and lab.cgroupVersion", props)
	}
}

func TestHTMLHasEveryRowPlotsAndLinks(t *testing.T) {
	artifacts := t.TempDir()
	r := fakeRun(t, artifacts)
	out, err := WriteHTML(r, artifacts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{
		"1 passed, 1 failed, 1 skipped of 3 specs",
		`<img src="../redis-port-forward/failover/failover.timeline.svg"`,
		`href="../redis-port-forward/pitfall-moved/index.txt"`,
		"not buildable offline", "6.1.0-test",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(artifacts, "redis-port-forward/failover/failover.timeline.svg"))
	if err != nil {
		t.Fatalf("plot not written: %v", err)
	}
	for _, want := range []string{"writes during failover", "pod-deleted: redis-2", "ok", "failed"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if st, err := os.Stat(filepath.Join(artifacts, "redis-port-forward/failover/failover.timeline.png")); err != nil || st.Size() < 1000 {
		t.Errorf("PNG missing or tiny: %v", err)
	}
}
