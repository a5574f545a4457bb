package lab

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A pod whose image cannot be pulled fails the wait at once, naming the
// image, the node, the kubelet's reason and what to do, instead of timing
// out minutes later.
func TestWaitPodRunningFailsFastOnAnImagePullFailure(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "echo"},
		Spec:       corev1.PodSpec{NodeName: "worker-1"},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "echo", Image: "nodelab.local/echo:v1",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "nodelab.local/echo:v1"`}},
		}}},
	}
	l := &Lab{Name: "t", Client: fake.NewClientset(pod)}
	start := time.Now()
	_, err := l.WaitPodRunning(context.Background(), "ns", "echo", 3*time.Minute)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("WaitPodRunning took %s, want < 10s", took)
	}
	for _, want := range []string{"nodelab.local/echo:v1", `"worker-1"`, "ImagePullBackOff", "nodelab images push --to"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("WaitPodRunning error = %v, want it to contain %q", err, want)
		}
	}
}

func TestImagePullFailureIgnoresOtherWaits(t *testing.T) {
	p := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
	}}}}
	if err := ImagePullFailure(p); err != nil {
		t.Fatalf("ImagePullFailure(ContainerCreating) = %v, want nil", err)
	}
}
