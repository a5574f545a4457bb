package scenarios_test

import (
	"strings"
	"testing"

	"github.com/nodelab/nodelab/scenarios"
	_ "github.com/nodelab/nodelab/scenarios/lab"
)

func TestGetUnknownScenarioListsKnownOnes(t *testing.T) {
	_, err := scenarios.Get("no-such-thing")
	if err == nil || !strings.Contains(err.Error(), "lab") || !strings.Contains(err.Error(), "nodelab scenarios") {
		t.Errorf("Get(unknown) error = %v, want one naming the known scenario lab and `nodelab scenarios`", err)
	}
	if s, err := scenarios.Get("lab"); err != nil || s.Label() != "scenario:lab" {
		t.Errorf("Get(lab) = %v, %v", s.Label(), err)
	}
}

func TestScenarioIDsAreKebabCase(t *testing.T) {
	for _, s := range scenarios.All() {
		if s.ID != strings.ToLower(s.ID) || strings.ContainsAny(s.ID, "_ ") || s.Typical == 0 || s.Summary == "" {
			t.Errorf("scenario %+v: want a kebab-case ID, a summary and a typical duration", s.Info)
		}
	}
}
