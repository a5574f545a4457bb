package catalog

import (
	"encoding/json"

	"github.com/nodelab/nodelab/scenarios"
)

// CIShard is one job of GitHub CI's e2e matrix: a label filter run on its
// own lab.
type CIShard struct {
	Shard  string `json:"shard"`
	Labels string `json:"labels"`
}

// CIShards is the e2e matrix: one shard per scenario (scenarios with the
// same Info.Shard share one), plus the specs that are not scenarios (lab
// lifecycle, the Chaos Mesh addon's smoke test, attach mode). The workflow reads it from
// `nodelab scenarios --ci-shards`, so a new scenario gets its shard without
// a workflow change.
func CIShards() []CIShard {
	shards := []CIShard{
		{Shard: "lifecycle", Labels: string(scenarios.Lifecycle)},
		{Shard: "chaos-mesh", Labels: string(scenarios.AddonChaosMesh)},
		{Shard: "attach", Labels: string(scenarios.Attach)},
	}
	index := map[string]int{}
	for _, s := range All() {
		name := s.Shard
		if name == "" {
			name = s.ID
		}
		if i, ok := index[name]; ok {
			shards[i].Labels += " || " + s.Label()
			continue
		}
		index[name] = len(shards)
		shards = append(shards, CIShard{Shard: name, Labels: s.Label()})
	}
	return shards
}

// CIShardsJSON is CIShards as the workflow's matrix include list.
func CIShardsJSON() string {
	b, err := json.Marshal(CIShards())
	if err != nil {
		panic(err) // plain strings always marshal
	}
	return string(b)
}
