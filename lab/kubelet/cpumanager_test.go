package kubelet

import (
	"testing"

	"sigs.k8s.io/yaml"
)

// Checkpoints as kubelet v1.37.1 wrote them on a kind worker (2 CPUs).
const (
	noneCheckpoint   = `{"policyName":"none","defaultCpuSet":"","checksum":1353318690,"data":"{\"policyName\":\"none\",\"defaultCpuSet\":\"\"}","dataChecksum":3028111495}`
	staticCheckpoint = `{"policyName":"static","defaultCpuSet":"0","entries":{"95b32323-f25b-4f19-a2e9-9d7d4963b86d":{"app":"1","init":"1"}},"checksum":773895350}`
)

func TestParseCPUManagerState(t *testing.T) {
	s, err := ParseCPUManagerState([]byte(noneCheckpoint))
	if err != nil || s.PolicyName != "none" || s.DefaultCPUSet != "" || len(s.Entries) != 0 {
		t.Fatalf("none checkpoint = %+v, %v", s, err)
	}
	s, err = ParseCPUManagerState([]byte(staticCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := s.Shared()
	if err != nil || shared.String() != "0" {
		t.Errorf("shared pool = %v, %v; want 0", shared, err)
	}
	app, ok, err := s.Assigned("95b32323-f25b-4f19-a2e9-9d7d4963b86d", "app")
	if err != nil || !ok || app.String() != "1" {
		t.Errorf("app's CPUs = %v %t %v; want 1", app, ok, err)
	}
	if _, ok, _ := s.Assigned("95b32323-f25b-4f19-a2e9-9d7d4963b86d", "sidecar"); ok {
		t.Error("a container without an entry has exclusive CPUs")
	}
	if _, err := ParseCPUManagerState([]byte(`{"checksum":1}`)); err == nil {
		t.Error("a checkpoint without policyName parsed")
	}
}

func TestApplyTuningCPUManager(t *testing.T) {
	out, err := ApplyTuning([]byte(kindConfig+"kubeReserved:\n  memory: 100Mi\n"), Tuning{
		CPUManagerPolicy:      "static",
		TopologyManagerPolicy: "best-effort",
		KubeReserved:          map[string]string{"cpu": "500m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CPUManagerPolicy      string            `json:"cpuManagerPolicy"`
		TopologyManagerPolicy string            `json:"topologyManagerPolicy"`
		KubeReserved          map[string]string `json:"kubeReserved"`
		EvictionHard          map[string]string `json:"evictionHard"`
	}
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.CPUManagerPolicy != "static" || got.TopologyManagerPolicy != "best-effort" || got.KubeReserved["cpu"] != "500m" || got.KubeReserved["memory"] != "100Mi" || len(got.EvictionHard) != 4 {
		t.Errorf("tuned config = %s", out)
	}
	cz := &Configz{CPUManagerPolicy: "static", TopologyManagerPolicy: "best-effort", KubeReserved: map[string]string{"cpu": "500m"}}
	if !cz.Shows(Tuning{CPUManagerPolicy: "static", KubeReserved: map[string]string{"cpu": "500m"}}) {
		t.Error("/configz with the static policy does not show it")
	}
	if cz.Shows(Tuning{CPUManagerPolicy: "none"}) || cz.Shows(Tuning{TopologyManagerPolicy: "restricted"}) || cz.Shows(Tuning{KubeReserved: map[string]string{"cpu": "1"}}) {
		t.Error("/configz shows values it does not have")
	}
}
