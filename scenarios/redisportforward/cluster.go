package redisportforward

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/instruments/jobrun"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/wait"
)

// createPods creates the fixture's redis pods (redis-cluster.yaml) in the
// run's namespace, with the image ref.
func (r *Runbook) createPods(ctx context.Context, ref string) error {
	return manifest.CreateFile(ctx, r.Lab.Config, fixtures.FS, "redis-port-forward/redis-cluster.yaml", manifest.InNamespace(r.Namespace), withImage(ref))
}

// withImage sets the image of every container of pod templates.
func withImage(ref string) manifest.Mutation {
	return func(u *unstructured.Unstructured) {
		cs, found, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		if !found {
			return
		}
		for i := range cs {
			if c, ok := cs[i].(map[string]any); ok {
				c["image"] = ref
			}
		}
		_ = unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
	}
}

// waitRedisPods waits for n Ready redis pods and returns them.
func (r *Runbook) waitRedisPods(ctx context.Context, n int) ([]corev1.Pod, error) {
	var ready []corev1.Pod
	within := wait.Within{What: fmt.Sprintf("%d Ready redis pods (%s)", n, selector), Timeout: r.t().PodStart, Poll: r.t().Poll}
	err := wait.Until(ctx, within, func(g gomega.Gomega) {
		pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "list redis pods")
		lab.StopOnImagePullFailure(pods.Items)
		ready = ready[:0]
		var states []string
		for _, p := range pods.Items {
			ok := p.DeletionTimestamp == nil && lab.PodCondition(&p, corev1.PodReady)
			states = append(states, fmt.Sprintf("%s %s ready=%v", p.Name, p.Status.Phase, ok))
			if ok {
				ready = append(ready, p)
			}
		}
		g.Expect(len(ready)).To(gomega.BeNumerically(">=", n), "Ready redis pods; last seen: %s", strings.Join(states, "; "))
	})
	if err != nil {
		return nil, err
	}
	return ready, nil
}

// createCluster records the pods' IPs and runs `redis-cli --cluster create`
// on them (3 masters, one replica each) from a Job.
func (r *Runbook) createCluster(ctx context.Context, image string, pods []corev1.Pod) error {
	r.podIPs = map[string]string{}
	var addrs []string
	for _, p := range pods {
		r.podIPs[p.Name] = p.Status.PodIP
		addrs = append(addrs, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(redisPort)))
	}
	slices.Sort(addrs)
	create := append([]string{"redis-cli", "--cluster", "create"}, addrs...)
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	_, err := jobrun.Run(ctx, r.Lab.Client, r.job("redis-cluster-create", image, create))
	return err
}

// job is a one-container Job in the run's namespace, bounded like a pod start.
func (r *Runbook) job(name, image string, command []string) jobrun.Job {
	return jobrun.Job{
		Namespace: r.Namespace, Name: name, Container: "client", Image: image, Command: command,
		Timeout: r.t().PodStart, Poll: r.t().Poll,
	}
}

// waitClusterOK waits until redis-0 reports a ready cluster: CLUSTER INFO
// with cluster_state:ok, 16384 slots assigned and ok, cluster_size:3 and 6
// known nodes, and CLUSTER NODES with 3 masters that serve slots, each with
// exactly one replica, none failing.
func (r *Runbook) waitClusterOK(ctx context.Context) error {
	c, fw, err := r.plainClient(ctx, "redis-0")
	if err != nil {
		return err
	}
	defer fw.Close()
	defer c.Close()
	within := wait.Within{
		What:    "redis-cluster ready (state ok, 16384 slots ok, 3 masters with one replica each, 6 nodes) per redis-0",
		Timeout: r.t().Network, Poll: r.t().Poll,
	}
	return wait.Until(ctx, within, func(g gomega.Gomega) {
		s, err := c.ClusterInfo(ctx).Result()
		g.Expect(err).NotTo(gomega.HaveOccurred(), "CLUSTER INFO")
		g.Expect(infoMismatch(parseInfo(s))).To(gomega.BeEmpty(), "CLUSTER INFO")
		txt, err := c.ClusterNodes(ctx).Result()
		g.Expect(err).NotTo(gomega.HaveOccurred(), "CLUSTER NODES")
		nodes, err := parseNodes(txt)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "CLUSTER NODES")
		g.Expect(topologyProblems(nodes)).To(gomega.BeEmpty(), "CLUSTER NODES:\n%s", txt)
	})
}
