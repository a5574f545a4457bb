package labsmoke

import (
	"strings"
	"testing"

	"github.com/nodelab/nodelab/lab/profile"
)

func TestDifferences(t *testing.T) {
	k := profile.Kubelet{
		EvictionHard:            map[string]string{"memory.available": "300Mi"},
		EvictionSoftGracePeriod: map[string]string{"memory.available": "30s"},
		FeatureGates:            map[string]bool{"MemoryQoS": true},
	}
	same := kubeletConfig{
		EvictionHard:            map[string]string{"memory.available": "300Mi", "nodefs.available": "10%"},
		EvictionSoftGracePeriod: map[string]string{"memory.available": "0h0m30s"},
		FeatureGates:            map[string]bool{"MemoryQoS": true},
	}
	if got := same.differences("n", k); len(got) != 0 {
		t.Fatalf("equal settings (30s = 0h0m30s): got %q", got)
	}
	got := kubeletConfig{EvictionHard: map[string]string{"memory.available": "100Mi"}}.differences("n", k)
	if len(got) != 3 || !strings.Contains(strings.Join(got, "\n"), `n: evictionHard[memory.available] = "100Mi", want "300Mi"`) {
		t.Fatalf("got %q, want 3 differences", got)
	}
}
