package ingressrollout

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/scenarios"
)

// waitRolledOut passes once the Deployment has its replicas and no other
// pod, and otherwise names what it last saw and the scale knob.
func TestWaitRolledOut(t *testing.T) {
	one := int32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: "ns", Generation: 1},
		Spec:   appsv1.DeploymentSpec{Replicas: &one},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}}
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app.kubernetes.io/name": "echo"}}}
	}
	// A scale that turns the shared PodStart (minutes) into well under a second.
	env := scenarios.Env{Scale: 0.002}

	r := &Runbook{env: env, Namespace: "ns", Lab: &lab.Lab{Client: fake.NewClientset(d, pod("echo-a"))}}
	if err := r.waitRolledOut(t.Context(), "echo", 1); err != nil {
		t.Fatalf("rolled out deployment: %v", err)
	}

	r = &Runbook{env: env, Namespace: "ns", Lab: &lab.Lab{Client: fake.NewClientset(d, pod("echo-a"), pod("echo-b"))}}
	err := r.waitRolledOut(t.Context(), "echo", 1)
	if err == nil || !strings.Contains(err.Error(), "echo-b") || !strings.Contains(err.Error(), scenarios.TimeoutScaleEnv) {
		t.Fatalf("deployment with an old pod left: err %v, want it to name the pods seen and %s", err, scenarios.TimeoutScaleEnv)
	}

	r = &Runbook{env: env, Namespace: "ns", Lab: &lab.Lab{Client: fake.NewClientset()}}
	if err := r.waitRolledOut(t.Context(), "echo", 1); err == nil || !strings.Contains(err.Error(), "get deployment echo") {
		t.Fatalf("missing deployment: err %v, want the get error at once", err)
	}
}
