package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const header = "apiVersion: nodelab.dev/v1alpha1\nkind: Profile\n"

// A file far larger than any profile is refused from its size, without
// being read whole; so is one just over the limit read from a stream.
func TestLoadRefusesHugeFiles(t *testing.T) {
	dir := t.TempDir()
	sparse := filepath.Join(dir, "50mb.yaml")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(sparse); err == nil || !strings.Contains(err.Error(), "profile is 50.0 MiB, more than the 1024 KiB") || !strings.Contains(err.Error(), "check the path") {
		t.Errorf("Load(50 MB file) = %v, want a size refusal", err)
	}
	big := header + "# " + strings.Repeat("x", MaxBytes) + "\n"
	if _, err := Decode([]byte(big)); err == nil || !strings.Contains(err.Error(), "more than the 1024 KiB") {
		t.Errorf("Decode(%d bytes) = %v, want a size refusal", len(big), err)
	}
}

// Only leaving a line out selects a default; an empty section still
// counts as left out (a key whose children are all commented out).
func TestNullSectionsAreLeftOut(t *testing.T) {
	p, err := Decode([]byte(header + "kubelet:\naddons:\n"))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if p.Name != DefaultName || p.WorkerCount() != DefaultWorkers || len(p.Kubelet.EvictionHard) == 0 {
		t.Errorf("defaults not applied: %+v", p)
	}
	if _, err := Decode([]byte(header + "kubelet:\n  evictionHard:\n")); err != nil {
		t.Errorf("evictionHard: (null) = %v, want it taken as left out", err)
	}
}

// YAML 1.1 booleans are quoted before conversion, so they stay what YAML
// 1.2 says they are (strings); real booleans and quoted strings are kept.
func TestYAML11BooleansStayStrings(t *testing.T) {
	p, err := Decode([]byte(header + "kubelet:\n  featureGates: {KubeletPSI: true, NodeSwap: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Kubelet.FeatureGates["KubeletPSI"] || p.Kubelet.FeatureGates["NodeSwap"] {
		t.Errorf("featureGates = %v", p.Kubelet.FeatureGates)
	}
	for _, word := range []string{"yes", "Yes", "no", "on", "OFF", "y", "N"} {
		_, err := Decode([]byte(header + "kubelet:\n  featureGates: {KubeletPSI: " + word + "}\n"))
		if err == nil || !strings.Contains(err.Error(), `kubelet.featureGates[KubeletPSI]: expected true or false, got string "`+word+`"`) {
			t.Errorf("featureGates value %s: %v, want it refused as a string", word, err)
		}
	}
	// An alias to a YAML 1.1 word is quoted through its anchor.
	_, err = Decode([]byte(header + "x: &v yes\nkubelet:\n  featureGates: {KubeletPSI: *v}\n"))
	if err == nil || !strings.Contains(err.Error(), `got string "yes"`) {
		t.Errorf("alias to yes: %v, want it refused as a string", err)
	}
}
