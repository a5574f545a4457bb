package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/cpuset"

	"github.com/nodelab/nodelab/lab/nodeexec"
)

// CPUManagerStatePath is the CPU manager's checkpoint in a kubeadm or kind
// node (the kubelet's root directory is /var/lib/kubelet). It records the
// policy that wrote it; a kubelet configured with another policy refuses
// to start until it is removed.
const CPUManagerStatePath = "/var/lib/kubelet/cpu_manager_state"

// CPUManagerState is the checkpoint's data.
type CPUManagerState struct {
	PolicyName string `json:"policyName"`
	// DefaultCPUSet is the shared pool (static policy): the CPUs of every
	// container without exclusive CPUs. Empty with the none policy.
	DefaultCPUSet string `json:"defaultCpuSet"`
	// Entries are the exclusive assignments: pod UID → container → CPUs.
	Entries map[string]map[string]string `json:"entries,omitempty"`
}

// Shared parses DefaultCPUSet.
func (s *CPUManagerState) Shared() (cpuset.CPUSet, error) {
	set, err := cpuset.Parse(s.DefaultCPUSet)
	if err != nil {
		return cpuset.New(), fmt.Errorf("CPU manager checkpoint: defaultCpuSet %q: %w", s.DefaultCPUSet, err)
	}
	return set, nil
}

// Assigned parses the exclusive CPUs of one container ("" when it has none).
func (s *CPUManagerState) Assigned(podUID, container string) (cpuset.CPUSet, bool, error) {
	v, ok := s.Entries[podUID][container]
	if !ok {
		return cpuset.New(), false, nil
	}
	set, err := cpuset.Parse(v)
	if err != nil {
		return cpuset.New(), true, fmt.Errorf("CPU manager checkpoint: pod %s container %s: %q: %w", podUID, container, v, err)
	}
	return set, true, nil
}

// ParseCPUManagerState decodes the checkpoint file (the v2+ format: the
// fields at the top level, besides a checksum).
func ParseCPUManagerState(b []byte) (*CPUManagerState, error) {
	var s CPUManagerState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode the CPU manager checkpoint: %w", err)
	}
	if s.PolicyName == "" {
		return nil, fmt.Errorf("decode the CPU manager checkpoint: no policyName in %q", strings.TrimSpace(string(b)))
	}
	return &s, nil
}

// ReadCPUManagerState reads the node's CPU manager checkpoint; nil without
// error when there is none (removed, and no kubelet has started since).
func ReadCPUManagerState(ctx context.Context, node nodeexec.Node) (*CPUManagerState, error) {
	files, err := nodeexec.ReadFiles(ctx, node, CPUManagerStatePath)
	if err != nil {
		return nil, fmt.Errorf("read the CPU manager checkpoint on %s: %w", node, err)
	}
	b, ok := files[CPUManagerStatePath]
	if !ok {
		return nil, nil
	}
	s, err := ParseCPUManagerState(b)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", node, err)
	}
	return s, nil
}

// Journal returns the kubelet's journal on node since a moment (one second
// earlier, the journal's resolution), messages only.
func Journal(ctx context.Context, node nodeexec.Node, since time.Time) (string, error) {
	out, err := nodeexec.Run(ctx, node, "journalctl", "-u", "kubelet", "--no-pager", "-o", "cat", "--since", "@"+strconv.FormatInt(since.Unix()-1, 10))
	if err != nil {
		return "", fmt.Errorf("read the kubelet's journal on %s: %w", node, err)
	}
	return out, nil
}
