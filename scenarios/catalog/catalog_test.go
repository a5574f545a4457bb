package catalog_test

import (
	"os"
	"path/filepath"
	"regexp"
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

// TestREADMETableIsTheCatalog keeps the README's scenario table what
// `nodelab scenarios --markdown` prints, and its "what each proves" table
// about the same scenarios in the same order.
func TestREADMETableIsTheCatalog(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	const begin, end = "<!-- scenarios:begin (go run ./cmd/nodelab scenarios --markdown) -->\n", "<!-- scenarios:end -->"
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md: no table between %q and %q", begin, end)
	}
	if got, want := readme[i+len(begin):j], catalog.Markdown(); got != want {
		t.Errorf("README.md's scenario table is stale; replace it with the output of `go run ./cmd/nodelab scenarios --markdown`:\n%s", want)
	}
	var ids []string
	for _, line := range strings.Split(readme[j:], "\n") {
		if m := proveRow.FindStringSubmatch(line); m != nil {
			ids = append(ids, m[1])
		} else if len(ids) > 0 {
			break
		}
	}
	var want []string
	for _, s := range catalog.All() {
		want = append(want, s.ID)
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("README.md's \"what each scenario proves\" table lists %v, want the catalog's %v", ids, want)
	}
}

// proveRow is a row of the README's "what each proves" table.
var proveRow = regexp.MustCompile("^\\| `([a-z0-9-]+)` \\| ")
