package catalog_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/catalog"
)

// TestCIShardsSelectEveryScenario keeps the CI matrix honest: shard names
// (used in artifact names) are unique, every filter parses and names only
// known labels, and every scenario and non-scenario spec group is selected
// by exactly one shard.
func TestCIShardsSelectEveryScenario(t *testing.T) {
	known := scenarios.Labels(catalog.All())
	groups := [][]string{{string(scenarios.Lifecycle), string(scenarios.Slow), string(scenarios.Disruptive), string(scenarios.Serial)}, {string(scenarios.AddonChaosMesh), string(scenarios.Slow)}}
	for _, s := range catalog.All() {
		labels := []string{s.Label()}
		for _, l := range s.Labels {
			labels = append(labels, string(l))
		}
		groups = append(groups, labels)
	}
	selects := make([]int, len(groups))
	seen := map[string]bool{}
	for _, sh := range catalog.CIShards() {
		if sh.Shard == "" || seen[sh.Shard] {
			t.Errorf("shard %q (%s): empty or repeated name", sh.Shard, sh.Labels)
		}
		seen[sh.Shard] = true
		filter, err := types.ParseLabelFilter(sh.Labels)
		if err != nil {
			t.Errorf("shard %s: label filter %q: %v", sh.Shard, sh.Labels, err)
			continue
		}
		for _, name := range labelToken.Split(sh.Labels, -1) {
			if name = strings.TrimSpace(name); name != "" && known[name] == "" {
				t.Errorf("shard %s: label %q is not in scenarios/labels.go or the catalog", sh.Shard, name)
			}
		}
		for i, g := range groups {
			if filter(g) {
				selects[i]++
			}
		}
	}
	for i, g := range groups {
		if selects[i] != 1 {
			t.Errorf("specs labelled %v are selected by %d CI shards, want 1", g, selects[i])
		}
	}
}

// TestCIUsesTheCatalog fails when the GitHub workflow or .ci/run go back to
// hand-written label lists, which drift (multus-network once had no shard).
func TestCIUsesTheCatalog(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Needs    any
			Strategy struct{ Matrix struct{ Include any } }
			Steps    []struct{ Run string }
		}
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatalf("ci.yml: %v", err)
	}
	if inc, _ := wf.Jobs["e2e"].Strategy.Matrix.Include.(string); inc != "${{ fromJSON(needs.shards.outputs.matrix) }}" {
		t.Errorf("ci.yml: the e2e matrix is %v, want include: ${{ fromJSON(needs.shards.outputs.matrix) }} (made by `nodelab scenarios --ci-shards`)", wf.Jobs["e2e"].Strategy.Matrix.Include)
	}
	made := false
	for _, st := range wf.Jobs["shards"].Steps {
		made = made || strings.Contains(st.Run, "nodelab scenarios --ci-shards")
	}
	if !made {
		t.Error("ci.yml: no shards job running `go run ./cmd/nodelab scenarios --ci-shards`")
	}
	ciRun, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`scenario:[a-z]`).Match(ciRun) {
		t.Error(".ci/run names scenario labels: it must run the whole suite (NODELAB_CI_LABELS narrows it)")
	}
}

// labelToken splits a label filter into label names.
var labelToken = regexp.MustCompile(`[&|!(),]+`)
