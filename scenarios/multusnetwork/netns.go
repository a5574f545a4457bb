package multusnetwork

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/nodeexec"
)

// podIptables is iptables-save run in the pod's network namespace, entered
// from the node through the PID of its container's first process.
func (r *Runbook) podIptables(ctx context.Context, pod string) (string, error) {
	p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	dir, v, err := nodeexec.FindContainerCgroup(ctx, r.node, nodeexec.ContainerCgroup{
		QOS: p.Status.QOSClass, PodUID: string(p.UID), ContainerID: p.Status.ContainerStatuses[0].ContainerID})
	if err != nil {
		return "", err
	}
	procs, err := nodeexec.ReadFile(ctx, r.node, nodeexec.MemoryCgroupDir(v, dir)+"/cgroup.procs")
	if err != nil {
		return "", err
	}
	pid, _, _ := strings.Cut(strings.TrimSpace(string(procs)), "\n")
	if _, err := strconv.Atoi(pid); err != nil {
		return "", fmt.Errorf("pod %s: no process in its cgroup %s", pod, dir)
	}
	return nodeexec.Run(ctx, r.node, "nsenter", "-t", pid, "-n", "iptables-save")
}
