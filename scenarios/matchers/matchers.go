// Package matchers holds gomega matchers for memory scenarios: working-set
// arithmetic, evictions, OOM kills, node conditions and taints. Failure
// messages print byte amounts in both MB (10^6) and MiB (2^20).
package matchers

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
)

// Bytes formats n as "<n> B (<x> MB, <y> MiB)".
func Bytes(n int64) string {
	return fmt.Sprintf("%d B (%.1f MB, %.1f MiB)", n, float64(n)/1e6, float64(n)/(1<<20))
}

// MemoryReading is what HaveWorkingSetWithin checks: the working set a
// reader reported next to the cgroup counters it should derive from.
type MemoryReading struct {
	WorkingSet   int64
	Usage        int64
	InactiveFile int64
}

// HaveWorkingSetWithin succeeds when WorkingSet equals Usage − InactiveFile
// (floored at 0, as cAdvisor does) within tolerance bytes.
func HaveWorkingSetWithin(tolerance int64) types.GomegaMatcher {
	return gcustom.MakeMatcher(func(r MemoryReading) (bool, error) {
		want := r.Usage - r.InactiveFile
		if want < 0 {
			want = 0
		}
		d := r.WorkingSet - want
		if d < 0 {
			d = -d
		}
		return d <= tolerance, nil
	}).WithTemplate("Expected working set {{.Actual.WorkingSet | printf \"%d\"}} to equal usage − inactive_file within {{.Data}}\n{{format .Actual 1}}", Bytes(tolerance))
}

// BeEvictedFor succeeds for a pod in phase Failed with reason Evicted and a
// message naming resource (e.g. "memory").
func BeEvictedFor(resource string) types.GomegaMatcher {
	return gcustom.MakeMatcher(func(p *corev1.Pod) (bool, error) {
		if p == nil {
			return false, fmt.Errorf("BeEvictedFor: pod is nil")
		}
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted" &&
			strings.Contains(strings.ToLower(p.Status.Message), strings.ToLower(resource)), nil
	}).WithTemplate("Expected pod {{.Actual.Namespace}}/{{.Actual.Name}} {{.To}} be evicted for {{.Data}}; phase={{.Actual.Status.Phase}} reason={{.Actual.Status.Reason}} message={{printf \"%q\" .Actual.Status.Message}}", resource)
}

// HaveBeenOOMKilled succeeds when some container of the pod (or the named
// one, if container is not empty) last terminated with reason OOMKilled or
// exit code 137.
func HaveBeenOOMKilled(container string) types.GomegaMatcher {
	return gcustom.MakeMatcher(func(p *corev1.Pod) (bool, error) {
		if p == nil {
			return false, fmt.Errorf("HaveBeenOOMKilled: pod is nil")
		}
		for _, cs := range p.Status.ContainerStatuses {
			if container != "" && cs.Name != container {
				continue
			}
			for _, t := range []*corev1.ContainerStateTerminated{cs.LastTerminationState.Terminated, cs.State.Terminated} {
				if t != nil && (t.Reason == "OOMKilled" || t.ExitCode == 137) {
					return true, nil
				}
			}
		}
		return false, nil
	}).WithTemplate("Expected pod {{.Actual.Namespace}}/{{.Actual.Name}} container {{printf \"%q\" .Data}} {{.To}} have been OOMKilled (reason OOMKilled or exit 137); container statuses:\n{{format .Actual.Status.ContainerStatuses 1}}", container)
}

// HaveNodeCondition succeeds when the node has condition t with status s.
func HaveNodeCondition(t corev1.NodeConditionType, s corev1.ConditionStatus) types.GomegaMatcher {
	return gcustom.MakeMatcher(func(n *corev1.Node) (bool, error) {
		if n == nil {
			return false, fmt.Errorf("HaveNodeCondition: node is nil")
		}
		for _, c := range n.Status.Conditions {
			if c.Type == t {
				return c.Status == s, nil
			}
		}
		return false, nil
	}).WithTemplate("Expected node {{.Actual.Name}} {{.To}} have condition {{.Data}}; conditions:\n{{format .Actual.Status.Conditions 1}}", fmt.Sprintf("%s=%s", t, s))
}

// HaveTaint succeeds when the node carries a taint with key and effect.
func HaveTaint(key string, effect corev1.TaintEffect) types.GomegaMatcher {
	return gcustom.MakeMatcher(func(n *corev1.Node) (bool, error) {
		if n == nil {
			return false, fmt.Errorf("HaveTaint: node is nil")
		}
		for _, tt := range n.Spec.Taints {
			if tt.Key == key && tt.Effect == effect {
				return true, nil
			}
		}
		return false, nil
	}).WithTemplate("Expected node {{.Actual.Name}} {{.To}} have taint {{.Data}}; taints:\n{{format .Actual.Spec.Taints 1}}", key+":"+string(effect))
}
