// Package lab is nodelab's public library for lab lifecycle: it turns a
// Profile into a kind cluster (Up), attaches to an existing cluster given by
// kubeconfig (Attach), and deletes only labs it created (Down). It never
// imports ginkgo, gomega, scenarios or e2e.
package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/nodelab/nodelab/lab/profile"
	"github.com/nodelab/nodelab/lab/wait"
)

// Lab is a running cluster nodelab works with.
type Lab struct {
	// Name is the lab (kind cluster) name; in attach mode the kubeconfig context.
	Name string
	// Kubeconfig is the path of the lab's kubeconfig file.
	Kubeconfig string
	// Config and Client talk to the API server.
	Config *rest.Config
	Client kubernetes.Interface
	// Profile the lab was made from; nil in attach mode.
	Profile *profile.Profile
	// NodeImage and its choice reason; empty in attach mode.
	Image NodeImageChoice
	// Attached is true when the cluster was given by kubeconfig: nodelab never deletes it.
	Attached bool
	// Created is true when this Up created the cluster (false when reused).
	Created bool

	// provider and kindCluster reach the node containers (NodeAccess);
	// nodeAccess is what was measured when they cannot be reached.
	provider    *cluster.Provider
	kindCluster string
	nodeAccess  error
}

// KindNodes returns the lab's kind node containers, for node access
// (lab/nodeexec): a lab nodelab created, or an attached kind cluster whose
// containers this host's Docker engine runs (NodeAccess).
func (l *Lab) KindNodes() ([]nodes.Node, error) {
	if err := l.NodeAccess(); err != nil {
		return nil, fmt.Errorf("lab %s: node containers are not reachable through Docker: %w", l.Name, err)
	}
	return l.provider.ListInternalNodes(l.kindCluster)
}

// KindWorkers returns the lab's worker node containers (KindNodes without
// the control plane), in kind's order; none for a lab of one node.
func (l *Lab) KindWorkers() ([]nodes.Node, error) {
	kn, err := l.KindNodes()
	if err != nil {
		return nil, err
	}
	var workers []nodes.Node
	for _, n := range kn {
		if role, err := n.Role(); err == nil && role == "worker" {
			workers = append(workers, n)
		}
	}
	return workers, nil
}

// ExportLogs writes kind's log export of the lab's nodes (journals,
// container logs, inspect output) to dir, as `kind export logs` does.
func (l *Lab) ExportLogs(dir string) error {
	if err := l.NodeAccess(); err != nil {
		return fmt.Errorf("lab %s: no kind nodes to export logs from: %w", l.Name, err)
	}
	if err := l.provider.CollectLogs(l.kindCluster, dir); err != nil {
		return fmt.Errorf("export logs of lab %s: %w", l.Name, err)
	}
	return nil
}

// Attach connects to an existing cluster by kubeconfig. nodelab will never
// delete it.
func Attach(ctx context.Context, kubeconfig string) (*Lab, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("attach: read kubeconfig %s: %w", kubeconfig, err)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("attach: kubeconfig %s: %w", kubeconfig, err)
	}
	l, err := newLab(raw.CurrentContext, kubeconfig, cfg)
	if err != nil {
		return nil, err
	}
	l.Attached = true
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	if _, err := l.Client.CoreV1().RESTClient().Get().AbsPath("/version").DoRaw(ctx); err != nil {
		return nil, fmt.Errorf("attach: API server of %s does not answer within %s (is the cluster up and the kubeconfig current?): %w", kubeconfig, attachTimeout, err)
	}
	// Node access is measured, never assumed from who made the cluster.
	l.nodeAccess = l.findKindNodes(ctx)
	return l, nil
}

func newLab(name, kubeconfig string, cfg *rest.Config) (*Lab, error) {
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", name, err)
	}
	return &Lab{Name: name, Kubeconfig: kubeconfig, Config: cfg, Client: cs}, nil
}

// WaitNodesReady waits until want nodes exist and all are Ready.
func (l *Lab) WaitNodesReady(ctx context.Context, want int, timeout time.Duration) error {
	err := wait.Until(ctx, wait.Within{What: fmt.Sprintf("%d nodes Ready", want), Timeout: timeout, Poll: nodesReadyPoll}, func(g gomega.Gomega) {
		list, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "list nodes")
		ready := 0
		for _, n := range list.Items {
			if NodeReady(&n) {
				ready++
			}
		}
		g.Expect(len(list.Items) >= want && ready == len(list.Items)).To(gomega.BeTrue(),
			"last seen: %d/%d nodes Ready (want %d)", ready, len(list.Items), want)
	})
	if err != nil {
		return fmt.Errorf("wait for nodes Ready (%s): %w", timeout, err)
	}
	return nil
}

// NodeReady reports the node's Ready condition.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
