package matchers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBytes(t *testing.T) {
	if got, want := Bytes(256<<20), "268435456 B (268.4 MB, 256.0 MiB)"; got != want {
		t.Fatalf("Bytes = %q, want %q", got, want)
	}
}

func TestHaveWorkingSetWithin(t *testing.T) {
	m := HaveWorkingSetWithin(1 << 20)
	ok, err := m.Match(MemoryReading{WorkingSet: 100 << 20, Usage: 150 << 20, InactiveFile: 50 << 20})
	if err != nil || !ok {
		t.Fatalf("exact match: ok=%v err=%v", ok, err)
	}
	bad := MemoryReading{WorkingSet: 150 << 20, Usage: 150 << 20, InactiveFile: 50 << 20}
	ok, err = m.Match(bad)
	if err != nil || ok {
		t.Fatalf("off by 50 MiB matched: ok=%v err=%v", ok, err)
	}
	msg := m.FailureMessage(bad)
	if !strings.Contains(msg, "1.0 MiB") || !strings.Contains(msg, "MB") || !strings.Contains(msg, "157286400") {
		t.Fatalf("failure message lacks MB/MiB or the value: %s", msg)
	}
	if ok, _ := m.Match(MemoryReading{Usage: 10, InactiveFile: 20}); !ok {
		t.Fatal("negative difference should floor at 0 and match a 0 working set")
	}
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
}

func TestBeEvictedFor(t *testing.T) {
	p := pod("hog")
	p.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory. Threshold quantity: 100Mi"}
	if ok, err := BeEvictedFor("memory").Match(p); err != nil || !ok {
		t.Fatalf("evicted pod: ok=%v err=%v", ok, err)
	}
	if ok, _ := BeEvictedFor("ephemeral-storage").Match(p); ok {
		t.Fatal("matched the wrong resource")
	}
	r := pod("running")
	r.Status.Phase = corev1.PodRunning
	m := BeEvictedFor("memory")
	if ok, _ := m.Match(r); ok {
		t.Fatal("running pod matched")
	}
	if msg := m.FailureMessage(r); !strings.Contains(msg, "ns/running") || !strings.Contains(msg, "phase=Running") {
		t.Fatalf("failure message: %s", msg)
	}
	if _, err := m.Match((*corev1.Pod)(nil)); err == nil {
		t.Fatal("nil pod: want error")
	}
}

func TestHaveBeenOOMKilled(t *testing.T) {
	p := pod("hog")
	p.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "sidecar"},
		{Name: "hog", RestartCount: 1, LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}},
	}
	if ok, _ := HaveBeenOOMKilled("hog").Match(p); !ok {
		t.Fatal("hog should match")
	}
	if ok, _ := HaveBeenOOMKilled("").Match(p); !ok {
		t.Fatal("any container should match")
	}
	m := HaveBeenOOMKilled("sidecar")
	if ok, _ := m.Match(p); ok {
		t.Fatal("sidecar should not match")
	}
	if msg := m.FailureMessage(p); !strings.Contains(msg, `"sidecar"`) || !strings.Contains(msg, "OOMKilled") {
		t.Fatalf("failure message: %s", msg)
	}
	e := pod("exit137")
	e.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 137}}}}
	if ok, _ := HaveBeenOOMKilled("c").Match(e); !ok {
		t.Fatal("exit 137 should match")
	}
}

func TestNodeMatchers(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1"}}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue}}
	n.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/memory-pressure", Effect: corev1.TaintEffectNoSchedule}}
	if ok, _ := HaveNodeCondition(corev1.NodeMemoryPressure, corev1.ConditionTrue).Match(n); !ok {
		t.Fatal("MemoryPressure=True should match")
	}
	c := HaveNodeCondition(corev1.NodeReady, corev1.ConditionTrue)
	if ok, _ := c.Match(n); ok {
		t.Fatal("absent Ready matched")
	}
	if msg := c.FailureMessage(n); !strings.Contains(msg, "Ready=True") || !strings.Contains(msg, "w1") {
		t.Fatalf("failure message: %s", msg)
	}
	if ok, _ := HaveTaint("node.kubernetes.io/memory-pressure", corev1.TaintEffectNoSchedule).Match(n); !ok {
		t.Fatal("taint should match")
	}
	tm := HaveTaint("node.kubernetes.io/memory-pressure", corev1.TaintEffectNoExecute)
	if ok, _ := tm.Match(n); ok {
		t.Fatal("wrong effect matched")
	}
	if msg := tm.FailureMessage(n); !strings.Contains(msg, "memory-pressure:NoExecute") {
		t.Fatalf("failure message: %s", msg)
	}
}
