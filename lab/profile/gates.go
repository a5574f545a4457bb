package profile

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/nodelab/nodelab/lab/images"
)

//go:generate go run ../../hack/kubeletgates -o kubelet-feature-gates.txt

// KubeletGatesFile is where the kubelet's feature gate names live, relative
// to the repository root; refusals point the user at it.
const KubeletGatesFile = "lab/profile/kubelet-feature-gates.txt"

// kubeletGatesText is generated from k8s.io/kubernetes at
// images.KubernetesVersion (nodelab does not depend on that module);
// TestKubeletGatesMatchPinnedVersion checks its header.
//
//go:embed kubelet-feature-gates.txt
var kubeletGatesText string

// kubeletGates parses the generated list: the version its header names
// and the set of gate names.
var kubeletGates = sync.OnceValues(func() (string, map[string]bool) {
	version, gates := "", map[string]bool{}
	for _, line := range strings.Split(kubeletGatesText, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "# kubernetes-version:"); ok {
			version = strings.TrimSpace(v)
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		gates[line] = true
	}
	return version, gates
})

// KubeletFeatureGates returns the feature gate names the kubelet of the
// pinned Kubernetes version knows, sorted.
func KubeletFeatureGates() []string {
	_, gates := kubeletGates()
	return sortedKeys(gates)
}

// validateGate refuses a feature gate the pinned kubelet does not know: the
// kubelet would fail to start ("unrecognized feature gate") and the lab with it.
func validateGate(path, gate string) error {
	_, gates := kubeletGates()
	if gates[gate] {
		return nil
	}
	hint := ""
	if s := closest(gate, sortedKeys(gates)); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return fmt.Errorf("%s: unknown feature gate %q for Kubernetes %s (kubelet gates: see %s)%s; remove it or fix the name",
		path, gate, images.KubernetesVersion, KubeletGatesFile, hint)
}
