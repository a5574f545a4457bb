package catalog_test

import (
	"strings"
	"testing"

	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/catalog"
)

func TestGetUnknownScenarioListsKnownOnes(t *testing.T) {
	_, err := catalog.Get("no-such-thing")
	if err == nil || !strings.Contains(err.Error(), "lab") || !strings.Contains(err.Error(), "nodelab scenarios") {
		t.Errorf("Get(unknown) error = %v, want one naming the known scenario lab and `nodelab scenarios`", err)
	}
	if s, err := catalog.Get("lab"); err != nil || s.Label() != "scenario:lab" {
		t.Errorf("Get(lab) = %v, %v", s.Label(), err)
	}
}

// TestDefinitionsAreComplete checks what the drivers rely on: unique
// kebab-case IDs, a summary and a typical duration, known labels, and steps
// that each have a side, a unique name, a timeout from the table and a Run;
// setup steps only at the start (they run in BeforeAll); a cleanup.
func TestDefinitionsAreComplete(t *testing.T) {
	known := scenarios.Labels(nil)
	seen := map[string]bool{}
	for _, s := range catalog.All() {
		if seen[s.ID] {
			t.Errorf("scenario %s listed twice", s.ID)
		}
		seen[s.ID] = true
		if s.ID != strings.ToLower(s.ID) || strings.ContainsAny(s.ID, "_ ") || s.Typical == 0 || s.Summary == "" || s.Runbook == nil {
			t.Errorf("scenario %+v: want a kebab-case ID, a summary, a typical duration and a runbook", s.Info)
			continue
		}
		for _, l := range s.Labels {
			if _, ok := known[string(l)]; !ok {
				t.Errorf("%s: label %q is not in scenarios/labels.go", s.ID, l)
			}
		}
		rb := s.Steps()
		if len(rb.Steps) == 0 {
			t.Errorf("%s: no steps", s.ID)
		}
		names := map[string]bool{}
		setupDone := false
		sides := map[scenarios.Side]bool{}
		for _, st := range append(append([]scenarios.Step{}, rb.Steps...), rb.LeakChecks...) {
			sides[st.Side] = true
			switch {
			case st.Name == "" || names[st.Name]:
				t.Errorf("%s: step name %q empty or repeated", s.ID, st.Name)
			case st.Timeout <= 0:
				t.Errorf("%s / %s: no timeout (take it from the scenario's timeout table)", s.ID, st.Name)
			case st.Run == nil:
				t.Errorf("%s / %s: no Run", s.ID, st.Name)
			case st.Side == "":
				t.Errorf("%s / %s: no side", s.ID, st.Name)
			}
			names[st.Name] = true
		}
		for _, st := range rb.Steps {
			if st.Side != scenarios.Setup {
				setupDone = true
			} else if setupDone {
				t.Errorf("%s / %s: a setup step after other steps (setup runs in BeforeAll)", s.ID, st.Name)
			}
		}
		if rb.Cleanup.Run == nil || rb.Cleanup.Timeout <= 0 {
			t.Errorf("%s: no cleanup with a timeout", s.ID)
		}
		if sides[scenarios.Pitfall] != sides[scenarios.Fix] {
			t.Errorf("%s: a pitfall without a fix or a fix without a pitfall (every scenario proves both sides)", s.ID)
		}
	}
}
