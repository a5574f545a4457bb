package lab

import (
	"fmt"
	"regexp"
	"strconv"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/lab/profile"
)

// Node labels nodelab puts on every node of a lab it creates.
const (
	LabelLab         = "nodelab.dev/lab"
	LabelProfileHash = "nodelab.dev/profile-hash"
)

// kubeletPatch is the KubeletConfiguration document kind hands to kubeadm as
// a merge patch. Only fields nodelab sets are here: a full KubeletConfiguration
// would marshal zero values that override the kubelet's defaults.
type kubeletPatch struct {
	APIVersion                       string            `json:"apiVersion"`
	Kind                             string            `json:"kind"`
	FailCgroupV1                     *bool             `json:"failCgroupV1,omitempty"`
	EvictionHard                     map[string]string `json:"evictionHard,omitempty"`
	EvictionSoft                     map[string]string `json:"evictionSoft,omitempty"`
	EvictionSoftGracePeriod          map[string]string `json:"evictionSoftGracePeriod,omitempty"`
	EvictionPressureTransitionPeriod string            `json:"evictionPressureTransitionPeriod,omitempty"`
	FeatureGates                     map[string]bool   `json:"featureGates,omitempty"`
}

// KindConfigInput is what KindConfig needs besides the profile.
type KindConfigInput struct {
	// NodeImage for every node.
	NodeImage string
	// CgroupVersion of the host (1 or 2).
	CgroupVersion int
}

// KindConfig turns a profile into kind's typed v1alpha4 cluster config. The
// notes say what nodelab decided for the user (e.g. failCgroupV1: false).
func KindConfig(p *profile.Profile, in KindConfigInput) (*v1alpha4.Cluster, []string, error) {
	var notes []string
	patch := kubeletPatch{
		APIVersion:                       "kubelet.config.k8s.io/v1beta1",
		Kind:                             "KubeletConfiguration",
		EvictionHard:                     p.Kubelet.EvictionHard,
		EvictionSoft:                     p.Kubelet.EvictionSoft,
		EvictionSoftGracePeriod:          p.Kubelet.EvictionSoftGracePeriod,
		EvictionPressureTransitionPeriod: p.Kubelet.EvictionPressureTransitionPeriod,
		FeatureGates:                     p.Kubelet.FeatureGates,
	}
	if in.CgroupVersion == 1 {
		minor, known := kubeMinor(in.NodeImage)
		// failCgroupV1 exists since 1.31; from 1.35 it defaults to true and the
		// kubelet refuses to start on a cgroup v1 host.
		if !known || minor >= 31 {
			f := false
			patch.FailCgroupV1 = &f
			notes = append(notes, "host is cgroup v1: setting kubelet failCgroupV1: false (Kubernetes ≥ 1.35 refuses cgroup v1 otherwise; cgroup v1 support is deprecated)")
		}
	}
	doc, err := yaml.Marshal(patch)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal kubelet patch: %w", err)
	}
	labels := map[string]string{LabelLab: p.Name, LabelProfileHash: p.Hash()}
	cfg := &v1alpha4.Cluster{
		TypeMeta:             v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:                 p.Name,
		KubeadmConfigPatches: []string{string(doc)},
	}
	cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Image: in.NodeImage, Labels: labels})
	for i := 0; i < p.WorkerCount(); i++ {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: in.NodeImage, Labels: labels})
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg, notes, nil
}

var imageMinor = regexp.MustCompile(`:v1\.(\d+)\.\d+`)

// kubeMinor reads the Kubernetes minor version from a node image tag such as
// kindest/node:v1.37.0@sha256:...; known is false for other tags.
func kubeMinor(image string) (minor int, known bool) {
	m := imageMinor.FindStringSubmatch(image)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}
