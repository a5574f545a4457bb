// Package profile defines the versioned lab Profile (apiVersion
// nodelab.dev/v1alpha1, kind Profile): what a lab looks like, decoded
// strictly (unknown fields are errors), defaulted, and validated with every
// problem reported at once.
package profile

import "github.com/nodelab/nodelab/lab/images"

// APIVersion and Kind identify a Profile document.
const (
	APIVersion = "nodelab.dev/v1alpha1"
	Kind       = "Profile"
)

// Profile describes one lab.
type Profile struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Name is the lab name; it is also the kind cluster name. Default "nodelab".
	Name string `json:"name"`
	// Workers is the number of worker nodes besides the control plane (0-8). Default 2.
	Workers *int `json:"workers,omitempty"`
	// ImageSource is auto, upstream or forge. Default auto.
	ImageSource images.Source `json:"imageSource,omitempty"`
	// NodeImage overrides the node image chosen by ImageSource.
	NodeImage string `json:"nodeImage,omitempty"`
	// Kubelet settings applied to every node through a kubeadm
	// KubeletConfiguration patch.
	Kubelet Kubelet `json:"kubelet,omitempty"`
	// Addons to install after the cluster is up, by name.
	Addons []string `json:"addons,omitempty"`
}

// Kubelet holds the kubelet settings a profile may set.
type Kubelet struct {
	// EvictionHard thresholds, e.g. {"memory.available": "300Mi"}. Setting
	// any key replaces the kubelet's whole default map.
	EvictionHard map[string]string `json:"evictionHard,omitempty"`
	// EvictionSoft thresholds; each needs an EvictionSoftGracePeriod entry.
	EvictionSoft map[string]string `json:"evictionSoft,omitempty"`
	// EvictionSoftGracePeriod per soft signal, as Go durations ("30s").
	EvictionSoftGracePeriod map[string]string `json:"evictionSoftGracePeriod,omitempty"`
	// EvictionPressureTransitionPeriod, a Go duration ("30s"); kubelet default 5m.
	EvictionPressureTransitionPeriod string `json:"evictionPressureTransitionPeriod,omitempty"`
	// FeatureGates to set on the kubelet.
	FeatureGates map[string]bool `json:"featureGates,omitempty"`
}

// WorkerCount is Workers with its default applied.
func (p *Profile) WorkerCount() int {
	if p.Workers == nil {
		return DefaultWorkers
	}
	return *p.Workers
}

// DefaultWorkers and DefaultName are the defaults for an empty profile
// (default.yaml says the same; TestDefault checks it). MaxWorkers bounds
// Workers: each kind node is a privileged container running a kubelet, and
// more than eight do not fit a laptop.
const (
	DefaultWorkers = 2
	DefaultName    = "nodelab"
	MaxWorkers     = 8
)
