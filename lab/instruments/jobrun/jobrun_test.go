package jobrun

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestObjectRunsOnceAndIsOwned(t *testing.T) {
	o := Job{Namespace: "ns", Name: "client", Image: "redis:7", Command: []string{"true"}}.Object()
	c := o.Spec.Template.Spec.Containers
	if *o.Spec.BackoffLimit != 0 || o.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever ||
		o.Labels["app.kubernetes.io/managed-by"] != "nodelab" || o.Spec.Template.Labels["job"] != "client" ||
		len(c) != 1 || c[0].Name != DefaultContainer || c[0].Image != "redis:7" {
		t.Fatalf("Job = %+v", o)
	}
}

// fakeClient answers Get on the Job with the given status and lists one pod
// that exited with code exit.
func fakeClient(status batchv1.JobStatus, exit int32) *fake.Clientset {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client-x", Namespace: "ns", Labels: map[string]string{"job": "client"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit}},
		}}},
	}
	c := fake.NewSimpleClientset(pod)
	c.PrependReactor("get", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "ns"}, Status: status}, nil
	})
	return c
}

func TestRunReturnsTheLogOfASucceededJob(t *testing.T) {
	c := fakeClient(batchv1.JobStatus{Succeeded: 1}, 0)
	res, err := Run(context.Background(), c, Job{Namespace: "ns", Name: "client", Image: "i", Timeout: time.Second, Poll: time.Millisecond})
	if err != nil || res.ExitCode != 0 || res.Log == "" {
		t.Fatalf("Run = %+v, %v", res, err)
	}
}

func TestRunStopsAtOnceOnAFailedJob(t *testing.T) {
	c := fakeClient(batchv1.JobStatus{Failed: 1}, 3)
	start := time.Now()
	res, err := Run(context.Background(), c, Job{Namespace: "ns", Name: "client", Image: "i", Timeout: time.Minute, Poll: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "the Job failed (succeeded=0 failed=1") || !strings.Contains(err.Error(), "exit code 3") ||
		res.ExitCode != 3 || time.Since(start) > 10*time.Second {
		t.Fatalf("Run of a failed Job = %+v, %v after %s", res, err, time.Since(start))
	}
}
