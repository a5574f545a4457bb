package memorypressure

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The runbook's order assertions rest on these relations; editing a size
// must keep them.
func TestSizesGiveTheAssertedOrder(t *testing.T) {
	const overRequest = 32 << 20 // fix.yaml's fix-over-request memory request
	if HogStress <= Headroom {
		t.Errorf("the hog alone (%d MiB) must cross the threshold (headroom %d MiB): it is the last pod left", HogStress>>20, Headroom>>20)
	}
	if OverRequestStress >= Headroom {
		t.Errorf("the over-request stress (%d MiB) alone must stay below the headroom (%d MiB): it is injected first", OverRequestStress>>20, Headroom>>20)
	}
	if OverRequestStress-overRequest < 64<<20 {
		t.Errorf("the over-request pod must exceed its request by far more than the BestEffort pod's ~8 MiB")
	}
	if HogBaseStress <= 64<<20 || HogBaseStress+OverRequestStress+256<<20 >= Headroom || HogBaseStress >= HogStress {
		t.Errorf("the hog's first step (%d MiB) must put it over its 64Mi request while the node stays below the threshold", HogBaseStress>>20)
	}
	if HogStress+64<<20 > 1536<<20 {
		t.Errorf("the hog's stress (%d MiB) must fit in its 1536Mi limit (fixtures): a cgroup OOM kill is another scenario", HogStress>>20)
	}
	if NeedBytes < HogStress+OverRequestStress {
		t.Errorf("NeedBytes %d below the stress it guards", NeedBytes)
	}
}

func TestCritical(t *testing.T) {
	p := func(v int32) *corev1.Pod { return &corev1.Pod{Spec: corev1.PodSpec{Priority: &v}} }
	if !critical(p(2000001000)) || !critical(p(2000000000)) {
		t.Error("system-node-critical and system-cluster-critical are critical")
	}
	if critical(p(100000)) || critical(&corev1.Pod{}) {
		t.Error("the hog's class and no priority are not critical")
	}
}
