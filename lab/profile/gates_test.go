package profile

import (
	"strings"
	"testing"

	"github.com/nodelab/nodelab/lab/images"
)

// The generated gate list must come from the Kubernetes version nodelab
// pins: after a bump of images.KubernetesVersion, run `go generate ./lab/profile`.
func TestKubeletGatesMatchPinnedVersion(t *testing.T) {
	version, gates := kubeletGates()
	if version != images.KubernetesVersion {
		t.Errorf("%s was generated for Kubernetes %q, nodelab pins %s: run `go generate ./lab/profile`", KubeletGatesFile, version, images.KubernetesVersion)
	}
	if !strings.Contains(kubeletGatesText, "go generate ./lab/profile") {
		t.Errorf("%s header does not name the command that generates it", KubeletGatesFile)
	}
	// A few gates from each source the kubelet registers, so that a broken
	// generator (an empty or partial list) fails here.
	for _, g := range []string{"KubeletPSI", "NodeSwap", "MemoryQoS", "APIResponseCompression", "WatchListClient", "ContextualLogging", "ComponentFlagz", "AllAlpha", "AllBeta"} {
		if !gates[g] {
			t.Errorf("gate %s is missing from %s", g, KubeletGatesFile)
		}
	}
	if len(gates) < 150 {
		t.Errorf("%s lists %d gates; a kubelet knows a few hundred", KubeletGatesFile, len(gates))
	}
}

func TestValidateGate(t *testing.T) {
	for _, c := range []struct {
		gate string
		want []string // nil: accepted
	}{
		{"KubeletPSI", nil},
		{"AllAlpha", nil},
		{"Foo", []string{`x: unknown feature gate "Foo" for Kubernetes ` + images.KubernetesVersion, KubeletGatesFile, "remove it or fix the name"}},
		{"KubeletPIS", []string{`did you mean "KubeletPSI"?`}},
		{"kubeletpsi", []string{`did you mean "KubeletPSI"?`}},
		{"", []string{`unknown feature gate ""`}},
		{"NodeSwap=true", []string{`unknown feature gate "NodeSwap=true"`}},
	} {
		err := validateGate("x", c.gate)
		if c.want == nil {
			if err != nil {
				t.Errorf("validateGate(%q) = %v, want ok", c.gate, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("validateGate(%q) succeeded, want an error", c.gate)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("validateGate(%q) = %q, does not mention %q", c.gate, err, w)
			}
		}
	}
}
