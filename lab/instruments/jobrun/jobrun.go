// Package jobrun runs a one-container batch/v1 Job to completion and returns
// its log: a client that has to run inside the cluster (redis-cli -c on
// pod IPs, a probe behind a NetworkPolicy) written as a step that returns an
// error.
//
//	res, err := jobrun.Run(ctx, l.Client, jobrun.Job{
//		Namespace: ns, Name: "in-cluster-client", Image: ref,
//		Command: []string{"sh", "-c", script},
//		Timeout: t.PodStart, Poll: t.Poll,
//	})
//
// The Job runs once (BackoffLimit 0, RestartPolicy Never) and is marked
// app.kubernetes.io/managed-by=nodelab; it is not deleted, so that its pod
// and log stay for a failure dump: create it in the run's own namespace,
// whose deletion removes it. The wait goes through lab/wait.
package jobrun

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/gomega"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodelab/nodelab/lab/wait"
)

// DefaultContainer is the container name of a Job that names none.
const DefaultContainer = "job"

// LogLimit is how much of the pod's log Run returns (its tail is cut).
const LogLimit = 64 * 1024

// Job is a one-container Job to run once.
type Job struct {
	// Namespace and Name of the Job; its pod is labelled job=<Name>.
	Namespace, Name string
	// Container is the container's name (DefaultContainer when empty).
	Container string
	// Image and Command of the container (pulled if not present).
	Image   string
	Command []string
	// Timeout bounds the Job from its creation to its success; Poll is the
	// interval between looks at its status. Both must be positive.
	Timeout, Poll time.Duration
}

// Result is what a finished (or failed) Job left.
type Result struct {
	// Log is the pod's log, at most LogLimit bytes, or why there is none.
	Log string
	// ExitCode is the container's exit code; -1 when it did not terminate
	// or its pod is gone.
	ExitCode int
}

// Object is the batch/v1 Job that Run creates for j.
func (j Job) Object() *batchv1.Job {
	backoff := int32(0)
	container := j.Container
	if container == "" {
		container = DefaultContainer
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: j.Name, Labels: map[string]string{"app.kubernetes.io/managed-by": "nodelab"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job": j.Name}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: container, Image: j.Image, ImagePullPolicy: corev1.PullIfNotPresent, Command: j.Command,
					}},
				},
			},
		},
	}
}

// Run creates the Job, waits until it succeeds (a failed Job stops the
// wait at once) and returns its pod's log and exit code. The error names
// the Job, the timeout and its last status, and carries its log.
func Run(ctx context.Context, client kubernetes.Interface, j Job) (Result, error) {
	jobs := client.BatchV1().Jobs(j.Namespace)
	if _, err := jobs.Create(ctx, j.Object(), metav1.CreateOptions{}); err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("create Job %s: %w", j.Name, err)
	}
	what := fmt.Sprintf("Job %s/%s to succeed", j.Namespace, j.Name)
	err := wait.Until(ctx, wait.Within{What: what, Timeout: j.Timeout, Poll: j.Poll}, func(g gomega.Gomega) {
		job, err := jobs.Get(ctx, j.Name, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "get Job %s", j.Name)
		state := fmt.Sprintf("succeeded=%d failed=%d active=%d", job.Status.Succeeded, job.Status.Failed, job.Status.Active)
		if job.Status.Failed > 0 {
			gomega.StopTrying("the Job failed (" + state + ")").Now()
		}
		g.Expect(job.Status.Succeeded).To(gomega.BeNumerically(">", 0), "Job %s: %s", j.Name, state)
	})
	res := result(ctx, client, j)
	if err != nil {
		return res, fmt.Errorf("job %s (exit code %d): %w; its log:\n%s", j.Name, res.ExitCode, err, res.Log)
	}
	return res, nil
}

// result reads the log and exit code of the Job's first pod.
func result(ctx context.Context, client kubernetes.Interface, j Job) Result {
	pods, err := client.CoreV1().Pods(j.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "job=" + j.Name})
	if err != nil || len(pods.Items) == 0 {
		return Result{Log: fmt.Sprintf("(no pod log: %v)", err), ExitCode: -1}
	}
	pod := pods.Items[0]
	res := Result{ExitCode: -1}
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			res.ExitCode = int(t.ExitCode)
		}
	}
	limit := int64(LogLimit)
	b, err := client.CoreV1().Pods(j.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{LimitBytes: &limit}).DoRaw(ctx)
	if err != nil {
		res.Log = fmt.Sprintf("(no pod log: %v)", err)
		return res
	}
	res.Log = string(b)
	return res
}
