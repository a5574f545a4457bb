package chaos

import (
	"strings"
	"testing"
	"time"
)

// The daemon runs what Normalize() makes of the spec: check our object
// asks memStress for exactly the workers and size given.
func TestNewMemoryStressNormalizesToMemStressFlags(t *testing.T) {
	sc := NewMemoryStress(MemoryStress{Namespace: "ns1", Name: "m", Selector: map[string]string{"app": "x"},
		Workers: 2, Size: "256MiB", OOMScoreAdj: -1000, Duration: 90 * time.Second})
	cpu, mem, err := sc.Spec.Stressors.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if cpu != "" || !strings.Contains(mem, "--workers 2") || !strings.Contains(mem, "--size 256MiB") {
		t.Errorf("Normalize() = cpu %q mem %q, want only memory with --workers 2 --size 256MiB", cpu, mem)
	}
	if got := sc.Spec.Selector.Namespaces; len(got) != 1 || got[0] != "ns1" {
		t.Errorf("namespaces = %v", got)
	}
	if sc.Spec.Selector.LabelSelectors["app"] != "x" || sc.Spec.Mode != "all" {
		t.Errorf("selector = %+v mode %s", sc.Spec.Selector, sc.Spec.Mode)
	}
	if sc.Spec.Duration == nil || *sc.Spec.Duration != "1m30s" {
		t.Errorf("duration = %v, want 1m30s", sc.Spec.Duration)
	}
	if sc.Spec.Stressors.MemoryStressor.OOMScoreAdj != -1000 {
		t.Errorf("oomScoreAdj = %d", sc.Spec.Stressors.MemoryStressor.OOMScoreAdj)
	}
	if NewMemoryStress(MemoryStress{Name: "n", Workers: 1}).Spec.Duration != nil {
		t.Error("zero Duration must leave spec.duration unset (until deleted)")
	}
}

func TestSchemeKnowsStressChaos(t *testing.T) {
	s, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	gvks, _, err := s.ObjectKinds(NewMemoryStress(MemoryStress{Name: "n", Workers: 1}))
	if err != nil || len(gvks) == 0 || gvks[0].Kind != "StressChaos" {
		t.Fatalf("ObjectKinds = %v, %v", gvks, err)
	}
}
