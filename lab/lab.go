// Package lab is nodelab's public library for lab lifecycle: it turns a
// Profile into a kind cluster (Up), attaches to an existing cluster given by
// kubeconfig (Attach), and deletes only labs it created (Down). It never
// imports ginkgo, gomega, scenarios or e2e.
package lab

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/nodelab/nodelab/lab/images"
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

	// provider and kindCluster reach the node containers through Docker
	// (DockerAccess); dockerAccess is what was measured when they cannot
	// be reached; agents reach the nodes otherwise (NodeAccess).
	provider     *cluster.Provider
	kindCluster  string
	dockerAccess error
	agents       *nodeAgents
	agentAccess  error

	// undo is what nodelab changed in an attached cluster besides its
	// node agents (an addon it installed), undone by Close in reverse.
	undoMu sync.Mutex
	undo   []undoStep
}

// undoStep is one change to undo at Close.
type undoStep struct {
	what string
	run  func(context.Context) error
}

// KindNodes returns the lab's kind node containers, for what needs them
// as containers (loading images, kind's log export): a lab nodelab
// created, or an attached kind cluster whose containers this host's Docker
// engine runs (DockerAccess). Commands on nodes use Nodes.
func (l *Lab) KindNodes() ([]nodes.Node, error) {
	if err := l.DockerAccess(); err != nil {
		return nil, fmt.Errorf("lab %s: node containers are not reachable through Docker: %w", l.Name, err)
	}
	return l.provider.ListInternalNodes(l.kindCluster)
}

// ExportLogs writes kind's log export of the lab's nodes (journals,
// container logs, inspect output) to dir, as `kind export logs` does.
func (l *Lab) ExportLogs(dir string) error {
	if err := l.DockerAccess(); err != nil {
		return fmt.Errorf("lab %s: no kind nodes to export logs from: %w", l.Name, err)
	}
	if err := l.provider.CollectLogs(l.kindCluster, dir); err != nil {
		return fmt.Errorf("export logs of lab %s: %w", l.Name, err)
	}
	return nil
}

// AttachOptions say which cluster to attach to and how its nodes may be
// reached.
type AttachOptions struct {
	// Kubeconfig is the cluster's kubeconfig file (its current context).
	Kubeconfig string
	// NodeAgent: when the nodes are not kind node containers on this
	// host, reach them through node agent pods (Close deletes them).
	NodeAgent NodeAgentOptions
	// Images says where the cluster gets nodelab's images when that cannot
	// be measured (the nodes are not kind containers on this host):
	// SourceForge when its nodes hold nodelab's forge images (preloaded,
	// or mirrored under the same names), SourceUpstream (the default) when
	// it pulls the upstream images.
	Images images.Source
}

// Attach connects to an existing cluster by kubeconfig. nodelab will never
// delete it. Node access is measured: kind node containers on this host's
// Docker engine when they are there, nothing else.
func Attach(ctx context.Context, kubeconfig string) (*Lab, error) {
	return AttachWith(ctx, AttachOptions{Kubeconfig: kubeconfig})
}

// AttachWith connects to an existing cluster as Attach does and, when
// opts.NodeAgent is enabled and Docker cannot reach the nodes, starts a
// node agent on every node. Call Close when done.
func AttachWith(ctx context.Context, opts AttachOptions) (*Lab, error) {
	kubeconfig := opts.Kubeconfig
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
	actx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	if _, err := l.Client.CoreV1().RESTClient().Get().AbsPath("/version").DoRaw(actx); err != nil {
		return nil, fmt.Errorf("attach: API server of %s does not answer within %s (is the cluster up and the kubeconfig current?): %w", kubeconfig, attachTimeout, err)
	}
	// Node access is measured, never assumed from who made the cluster.
	l.dockerAccess = l.findKindNodes(actx)
	if l.dockerAccess != nil && opts.Images != "" && opts.Images != images.SourceAuto {
		l.Image = NodeImageChoice{Source: opts.Images, Reason: fmt.Sprintf("given: the cluster's nodes get %s images (not measured: %v)", opts.Images, l.dockerAccess)}
	}
	switch {
	case l.dockerAccess == nil:
	case !opts.NodeAgent.Enabled:
		l.agentAccess = errors.New("node agents are off")
	default:
		if err := l.startNodeAgents(ctx, opts.NodeAgent); err != nil {
			return nil, fmt.Errorf("attach %s: nodes are not kind node containers on this host (%w), and %w", l.Name, l.dockerAccess, err)
		}
	}
	return l, nil
}

// Close undoes what nodelab changed in an attached cluster (UndoOnClose:
// addons it installed) and removes what it started to reach it (the node
// agents), each verified gone. The cluster itself stays.
func (l *Lab) Close(ctx context.Context) error {
	l.undoMu.Lock()
	steps := l.undo
	l.undo = nil
	l.undoMu.Unlock()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].run(ctx); err != nil {
			errs = append(errs, fmt.Errorf("undo %s in %s: %w", steps[i].what, l.Name, err))
		}
	}
	return errors.Join(append(errs, l.stopNodeAgents(ctx))...)
}

// UndoRecorded reports whether a change called what is recorded for Close.
func (l *Lab) UndoRecorded(what string) bool {
	l.undoMu.Lock()
	defer l.undoMu.Unlock()
	for _, u := range l.undo {
		if u.what == what {
			return true
		}
	}
	return false
}

// UndoOnClose records a change nodelab made to a cluster it did not create
// (what says which, once: a second call with the same what is ignored), to
// be undone by Close, last recorded first, before the node agents go.
func (l *Lab) UndoOnClose(what string, undo func(context.Context) error) {
	l.undoMu.Lock()
	defer l.undoMu.Unlock()
	for _, u := range l.undo {
		if u.what == what {
			return
		}
	}
	l.undo = append(l.undo, undoStep{what: what, run: undo})
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
