// Package kubelet reads a kind node's kubelet state through the API server
// proxy. This file is the summary API reader
// (/api/v1/nodes/<node>/proxy/stats/summary). k8s.io/kubelet is not in
// go.mod, so the types are a minimal subset of
// k8s.io/kubelet/pkg/apis/stats/v1alpha1 with the same JSON names.
package kubelet

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Summary is the subset of the kubelet's stats/summary response we use.
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats holds node-level stats.
type NodeStats struct {
	NodeName string       `json:"nodeName"`
	Memory   *MemoryStats `json:"memory,omitempty"`
	// Fs is the node filesystem (nodefs: the kubelet's root dir).
	Fs *FsStats `json:"fs,omitempty"`
	// Runtime holds the runtime's filesystems (imagefs).
	Runtime *RuntimeStats `json:"runtime,omitempty"`
}

// RuntimeStats holds the container runtime's filesystem stats.
type RuntimeStats struct {
	// ImageFs is where the runtime keeps images (and, unless a separate
	// container filesystem is set, the containers' writable layers).
	ImageFs *FsStats `json:"imageFs,omitempty"`
}

// FsStats mirrors the kubelet's FsStats; nil fields were absent. Used and
// inodesUsed come from the runtime (CRI ImageFsInfo) for imageFs; the
// others from a statfs of the filesystem that holds its mountpoint.
type FsStats struct {
	Time           metav1.Time `json:"time"`
	AvailableBytes *uint64     `json:"availableBytes,omitempty"`
	CapacityBytes  *uint64     `json:"capacityBytes,omitempty"`
	UsedBytes      *uint64     `json:"usedBytes,omitempty"`
	InodesFree     *uint64     `json:"inodesFree,omitempty"`
	Inodes         *uint64     `json:"inodes,omitempty"`
	InodesUsed     *uint64     `json:"inodesUsed,omitempty"`
}

// PodReference names a pod.
type PodReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// PodStats holds pod-level stats.
type PodStats struct {
	PodRef     PodReference     `json:"podRef"`
	Memory     *MemoryStats     `json:"memory,omitempty"`
	Containers []ContainerStats `json:"containers"`
}

// ContainerStats holds container-level stats.
type ContainerStats struct {
	Name   string       `json:"name"`
	Memory *MemoryStats `json:"memory,omitempty"`
}

// MemoryStats mirrors the kubelet's MemoryStats; nil fields were absent.
type MemoryStats struct {
	// Time is when the numbers were read (the kubelet caches them).
	Time            metav1.Time `json:"time"`
	AvailableBytes  *uint64     `json:"availableBytes,omitempty"`
	UsageBytes      *uint64     `json:"usageBytes,omitempty"`
	WorkingSetBytes *uint64     `json:"workingSetBytes,omitempty"`
	RSSBytes        *uint64     `json:"rssBytes,omitempty"`
	PageFaults      *uint64     `json:"pageFaults,omitempty"`
	MajorPageFaults *uint64     `json:"majorPageFaults,omitempty"`
}

// ParseSummary decodes a stats/summary response body.
func ParseSummary(b []byte) (*Summary, error) {
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode kubelet stats/summary: %w", err)
	}
	return &s, nil
}

// ReadSummary fetches the node's stats/summary through the API server proxy.
func ReadSummary(ctx context.Context, cs kubernetes.Interface, node string) (*Summary, error) {
	b, err := cs.CoreV1().RESTClient().Get().
		AbsPath("/api/v1/nodes", node, "proxy", "stats", "summary").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read stats/summary of node %s via the API server proxy (is the node Ready?): %w", node, err)
	}
	return ParseSummary(b)
}

// Pod returns the stats of namespace/name, or nil if the summary lacks it.
func (s *Summary) Pod(namespace, name string) *PodStats {
	for i := range s.Pods {
		if s.Pods[i].PodRef.Namespace == namespace && s.Pods[i].PodRef.Name == name {
			return &s.Pods[i]
		}
	}
	return nil
}

// Container returns the stats of the named container, or nil.
func (p *PodStats) Container(name string) *ContainerStats {
	for i := range p.Containers {
		if p.Containers[i].Name == name {
			return &p.Containers[i]
		}
	}
	return nil
}
