package lab

import (
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/lab/profile"
)

func TestKindConfigCgroupV1SetsFailCgroupV1False(t *testing.T) {
	p := profile.Default()
	cfg, notes, err := KindConfig(p, KindConfigInput{NodeImage: "nodelab.local/kind-node:v1.37.1", CgroupVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "failCgroupV1: false") {
		t.Errorf("notes = %q, want one saying failCgroupV1: false", notes)
	}
	var patch map[string]any
	if err := yaml.Unmarshal([]byte(cfg.KubeadmConfigPatches[0]), &patch); err != nil {
		t.Fatal(err)
	}
	if patch["kind"] != "KubeletConfiguration" || patch["failCgroupV1"] != false {
		t.Errorf("patch = %v, want a KubeletConfiguration with failCgroupV1: false", patch)
	}
	hard, _ := patch["evictionHard"].(map[string]any)
	if hard["memory.available"] != p.Kubelet.EvictionHard["memory.available"] {
		t.Errorf("patch evictionHard = %v, want the profile's %v", hard, p.Kubelet.EvictionHard)
	}
	// Only the fields nodelab sets: a zero-valued field would override a kubelet default.
	for k := range patch {
		switch k {
		case "apiVersion", "kind", "failCgroupV1", "evictionHard", "evictionSoft", "evictionSoftGracePeriod":
		default:
			t.Errorf("patch sets %q, which the profile did not ask for", k)
		}
	}
}

func TestKindConfigCgroupV2LeavesFailCgroupV1Alone(t *testing.T) {
	cfg, notes, err := KindConfig(profile.Default(), KindConfigInput{NodeImage: "kindest/node:v1.37.0@sha256:abc", CgroupVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 || strings.Contains(cfg.KubeadmConfigPatches[0], "failCgroupV1") {
		t.Errorf("cgroup v2 host: notes %q, patch %q; want no failCgroupV1", notes, cfg.KubeadmConfigPatches[0])
	}
}

func TestKindConfigNodesAndLabels(t *testing.T) {
	p := profile.Default()
	three := 3
	p.Workers = &three
	p.Name = "lab-x"
	cfg, _, err := KindConfig(p, KindConfigInput{NodeImage: "img:v1.37.1", CgroupVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "lab-x" || len(cfg.Nodes) != 4 {
		t.Fatalf("name %q with %d nodes, want lab-x with 4", cfg.Name, len(cfg.Nodes))
	}
	if cfg.Nodes[0].Role != v1alpha4.ControlPlaneRole || cfg.Nodes[3].Role != v1alpha4.WorkerRole {
		t.Errorf("roles %s..%s, want control-plane first then workers", cfg.Nodes[0].Role, cfg.Nodes[3].Role)
	}
	for _, n := range cfg.Nodes {
		if n.Image != "img:v1.37.1" || n.Labels[LabelLab] != "lab-x" || n.Labels[LabelProfileHash] != p.Hash() {
			t.Errorf("node %+v: want image img:v1.37.1 and nodelab labels", n)
		}
	}
}

func TestKubeMinor(t *testing.T) {
	for img, want := range map[string]int{"kindest/node:v1.37.0@sha256:x": 37, "nodelab.local/kind-node:v1.30.2": 30, "custom:latest": -1} {
		got, known := kubeMinor(img)
		if (want < 0) == known || (known && got != want) {
			t.Errorf("kubeMinor(%q) = %d, %v; want %d", img, got, known, want)
		}
	}
}
