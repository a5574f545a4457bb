// Package report turns a ginkgo run into things people act on: a JUnit file
// whose failures name their failure bundle and whose suite properties say
// what lab it ran on; a failure bundle per failed spec (bundle.go); plots of
// the timelines specs attach (plot.go); and a static HTML summary
// (html.go). It lives under e2e because it reads ginkgo's report types; the
// lab library (lab/...) never imports ginkgo.
//
// Specs attach files with a report entry named EntryArtifact whose value is
// a path relative to the artifacts folder; timeline files (lab/instruments/timeline)
// attached this way are plotted. Paths per spec come from SpecDir:
// $ARTIFACTS/<scenario-id>/<spec>/.
package report

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// EntryArtifact names report entries that attach a file to a spec.
const EntryArtifact = "artifact"

// EntryLabFact prefixes report entries that describe the lab ("lab.kernel").
const EntryLabFact = "lab."

var unsafe = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// ScenarioID is the spec's scenario:<id> label, or "suite".
func ScenarioID(s types.SpecReport) string {
	for _, l := range s.Labels() {
		if id, ok := strings.CutPrefix(l, "scenario:"); ok {
			return id
		}
	}
	return "suite"
}

// SpecSlug is a file-name-safe form of the spec's own text.
func SpecSlug(s types.SpecReport) string {
	text := s.LeafNodeText
	if text == "" {
		text = s.LeafNodeType.String()
	}
	slug := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(text), "-"), "-")
	if len(slug) > 80 {
		slug = slug[:80]
	}
	return slug
}

// SpecDir is where a spec's bundle and attachments go, relative to the
// artifacts folder.
func SpecDir(s types.SpecReport) string {
	return filepath.Join(ScenarioID(s), SpecSlug(s))
}

// Artifacts lists the paths (relative to the artifacts folder) a spec attached.
func Artifacts(s types.SpecReport) []string {
	var out []string
	for _, e := range s.ReportEntries {
		if e.Name == EntryArtifact {
			out = append(out, e.StringRepresentation())
		}
	}
	return out
}

// LabFacts collects the lab.* report entries of a run (BeforeSuite adds them).
func LabFacts(r types.Report) map[string]string {
	facts := map[string]string{}
	for _, s := range r.SpecReports {
		for _, e := range s.ReportEntries {
			if k, ok := strings.CutPrefix(e.Name, EntryLabFact); ok {
				facts[k] = e.StringRepresentation()
			}
		}
	}
	return facts
}
