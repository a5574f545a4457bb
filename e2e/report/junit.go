package report

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
)

// WriteJUnit writes the JUnit file: one testcase per spec, skip reasons in
// <skipped>, and for a failed spec whose bundle exists under artifacts the
// bundle's path appended to the failure message. The lab's facts become
// suite properties (prefixed "lab.").
func WriteJUnit(r types.Report, path, artifacts string) error {
	specs := make(types.SpecReports, len(r.SpecReports))
	copy(specs, r.SpecReports)
	for i, s := range specs {
		if !s.State.Is(types.SpecStateFailureStates) {
			continue
		}
		dir := filepath.Join(artifacts, SpecDir(s))
		if _, err := os.Stat(filepath.Join(dir, "index.txt")); err == nil {
			specs[i].Failure.Message += "\nfailure bundle: " + dir
		}
	}
	r.SpecReports = specs
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write JUnit: %w", err)
	}
	if err := reporters.GenerateJUnitReportWithConfig(r, path, reporters.JunitReportConfig{}); err != nil {
		return fmt.Errorf("write JUnit: %w", err)
	}
	return addProperties(path, LabFacts(r))
}

// addProperties adds name/value properties to every suite of a JUnit file.
func addProperties(path string, props map[string]string) error {
	if len(props) == 0 {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var suites reporters.JUnitTestSuites
	if err := xml.Unmarshal(b, &suites); err != nil {
		return fmt.Errorf("read back %s: %w", path, err)
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i := range suites.TestSuites {
		for _, k := range keys {
			suites.TestSuites[i].Properties.Properties = append(suites.TestSuites[i].Properties.Properties,
				reporters.JUnitProperty{Name: EntryLabFact + k, Value: props[k]})
		}
	}
	out, err := xml.MarshalIndent(suites, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), out...), 0o644)
}
