package labsmoke

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/profile"
)

// kubeletConfig is the part of a node's /configz the profile sets.
type kubeletConfig struct {
	EvictionHard            map[string]string `json:"evictionHard"`
	EvictionSoft            map[string]string `json:"evictionSoft"`
	EvictionSoftGracePeriod map[string]string `json:"evictionSoftGracePeriod"`
	FeatureGates            map[string]bool   `json:"featureGates"`
}

// readConfigz reads the kubelet configuration of a node through the API
// server's node proxy (/api/v1/nodes/<node>/proxy/configz).
func readConfigz(ctx context.Context, l *lab.Lab, node string) (kubeletConfig, error) {
	raw, err := l.Client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", "configz").DoRaw(ctx)
	if err != nil {
		return kubeletConfig{}, fmt.Errorf("read /configz of node %s: %w", node, err)
	}
	var cz struct {
		KubeletConfig kubeletConfig `json:"kubeletconfig"`
	}
	if err := json.Unmarshal(raw, &cz); err != nil {
		return kubeletConfig{}, fmt.Errorf("decode /configz of node %s: %w", node, err)
	}
	return cz.KubeletConfig, nil
}

// differences lists, one line each, the profile's kubelet settings that
// node's configuration does not have.
func (kc kubeletConfig) differences(node string, k profile.Kubelet) []string {
	var problems []string
	problems = append(problems, compare(node, "evictionHard", k.EvictionHard, kc.EvictionHard)...)
	problems = append(problems, compare(node, "evictionSoft", k.EvictionSoft, kc.EvictionSoft)...)
	problems = append(problems, compareDurations(node, "evictionSoftGracePeriod", k.EvictionSoftGracePeriod, kc.EvictionSoftGracePeriod)...)
	for g, v := range k.FeatureGates {
		if got, ok := kc.FeatureGates[g]; !ok || got != v {
			problems = append(problems, fmt.Sprintf("%s: featureGates.%s = %v (set: %v), want %v", node, g, got, ok, v))
		}
	}
	return problems
}

func compare(node, field string, want, got map[string]string) []string {
	var out []string
	for k, v := range want {
		if got[k] != v {
			out = append(out, fmt.Sprintf("%s: %s[%s] = %q, want %q", node, field, k, got[k], v))
		}
	}
	return out
}

func compareDurations(node, field string, want, got map[string]string) []string {
	var out []string
	for k, v := range want {
		w, err1 := time.ParseDuration(v)
		g, err2 := time.ParseDuration(got[k])
		if err1 != nil || err2 != nil || w != g {
			out = append(out, fmt.Sprintf("%s: %s[%s] = %q, want %q", node, field, k, got[k], v))
		}
	}
	return out
}
