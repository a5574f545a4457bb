package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/nodeexec"
)

// NodeAccess is nil when nodelab can run commands on every node of the
// lab (Nodes): as kind node containers through this host's Docker engine
// (any kind cluster on this host, whoever created it), or through node
// agent pods on an attached cluster. Otherwise it says what was measured.
// Node files, kubelet restarts and the nodes' network namespaces need it.
func (l *Lab) NodeAccess() error {
	if l.DockerAccess() == nil || l.agents != nil {
		return nil
	}
	if l.agentAccess != nil {
		return fmt.Errorf("%w; %w", l.DockerAccess(), l.agentAccess)
	}
	return l.DockerAccess()
}

// DockerAccess is nil when the lab's nodes are kind node containers this
// host's Docker engine runs, and otherwise says what was measured. What
// needs the containers themselves (loading images, the NLB's data plane on
// the kind network, kind's log export) needs it.
func (l *Lab) DockerAccess() error {
	if l.provider != nil && l.kindCluster != "" {
		return nil
	}
	if l.dockerAccess != nil {
		return l.dockerAccess
	}
	return errors.New("node access was not measured for this lab")
}

// NodeAccessText says how the lab's nodes are reached, as measured.
func (l *Lab) NodeAccessText() string {
	switch {
	case l.DockerAccess() == nil:
		return fmt.Sprintf("kind node containers of cluster %s through this host's Docker engine", l.kindCluster)
	case l.agents != nil:
		return fmt.Sprintf("node agent pods in namespace %s (image %s; Docker: %v)", l.agents.namespace, l.agents.image, l.DockerAccess())
	}
	return "none (" + l.NodeAccess().Error() + ")"
}

// NodeAgentNamespace is the namespace of the running node agents, "" when
// none run.
func (l *Lab) NodeAgentNamespace() string {
	if l.agents == nil {
		return ""
	}
	return l.agents.namespace
}

// Nodes returns every node of the lab to run commands on (lab/nodeexec),
// reached as NodeAccess says.
func (l *Lab) Nodes() ([]nodeexec.Node, error) {
	if l.DockerAccess() == nil {
		kn, err := l.KindNodes()
		if err != nil {
			return nil, err
		}
		out := make([]nodeexec.Node, 0, len(kn))
		for _, n := range kn {
			out = append(out, n)
		}
		return out, nil
	}
	if l.agents == nil {
		return nil, fmt.Errorf("lab %s: no node access: %w", l.Name, l.NodeAccess())
	}
	names := make([]string, 0, len(l.agents.pods))
	for n := range l.agents.pods {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]nodeexec.Node, 0, len(names))
	for _, n := range names {
		out = append(out, l.agentNode(n))
	}
	return out, nil
}

// Node returns the named node of the lab to run commands on.
func (l *Lab) Node(name string) (nodeexec.Node, error) {
	all, err := l.Nodes()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.String() == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("node %s is not a node of lab %s", name, l.Name)
}

// Workers returns the lab's worker nodes (every node without the
// control-plane role) to run commands on; none for a lab of one node.
func (l *Lab) Workers() ([]nodeexec.Node, error) {
	if l.DockerAccess() == nil {
		kn, err := l.KindNodes()
		if err != nil {
			return nil, err
		}
		var workers []nodeexec.Node
		for _, n := range kn {
			if role, err := n.Role(); err == nil && role == "worker" {
				workers = append(workers, n)
			}
		}
		return workers, nil
	}
	if l.agents == nil {
		return nil, fmt.Errorf("lab %s: no node access: %w", l.Name, l.NodeAccess())
	}
	workers := make([]nodeexec.Node, 0, len(l.agents.workers))
	for _, n := range l.agents.workers {
		workers = append(workers, l.agentNode(n))
	}
	return workers, nil
}

// kindProviderID is how kind names a node to Kubernetes:
// kind://<provider>/<cluster>/<node>.
const kindProviderID = "kind://"

// findKindNodes measures whether an attached cluster's nodes are kind node
// containers on this host: every node's providerID names the same kind
// cluster on docker, and this host's engine runs a container of that
// cluster (label io.x-k8s.kind.cluster) for every node. On success the lab
// reaches its nodes like a lab nodelab created, and its node image is the
// one the containers run.
func (l *Lab) findKindNodes(ctx context.Context) error {
	nodeList, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	if len(nodeList.Items) == 0 {
		return errors.New("the cluster has no nodes")
	}
	clusterName := ""
	var names []string
	for _, n := range nodeList.Items {
		names = append(names, n.Name)
		rest, ok := strings.CutPrefix(n.Spec.ProviderID, kindProviderID)
		parts := strings.Split(rest, "/")
		if !ok || len(parts) != 3 {
			return fmt.Errorf("node %s has providerID %q, not a kind node (kind://docker/<cluster>/<node>)", n.Name, n.Spec.ProviderID)
		}
		if parts[0] != "docker" {
			return fmt.Errorf("node %s is a kind node on %s; nodelab reaches kind nodes on docker only", n.Name, parts[0])
		}
		if clusterName != "" && parts[1] != clusterName {
			return fmt.Errorf("nodes belong to two kind clusters (%s, %s)", clusterName, parts[1])
		}
		clusterName = parts[1]
	}
	if err := CheckDocker(ctx); err != nil {
		return fmt.Errorf("kind cluster %s: its node containers cannot be reached: %w", clusterName, err)
	}
	provider := cluster.NewProvider(cluster.ProviderWithDocker())
	containers, err := provider.ListInternalNodes(clusterName)
	if err != nil {
		return fmt.Errorf("kind cluster %s: list its node containers on this host's Docker engine: %w", clusterName, err)
	}
	have := map[string]bool{}
	for _, c := range containers {
		have[c.String()] = true
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("kind cluster %s: no node container for %s on this host's Docker engine (the cluster runs elsewhere)", clusterName, strings.Join(missing, ", "))
	}
	img, err := dockercli.Run(ctx, "inspect", "--format", "{{.Config.Image}}", containers[0].String())
	if err != nil {
		return fmt.Errorf("kind cluster %s: node image: %w", clusterName, err)
	}
	src := images.SourceUpstream
	if img == images.ForgeNodeImage {
		src = images.SourceForge
	}
	l.provider, l.kindCluster = provider, clusterName
	l.Image = NodeImageChoice{Image: img, Source: src, Reason: fmt.Sprintf("measured: the node containers of kind cluster %s run %s", clusterName, img)}
	return nil
}

// KubeletPort is where every node's kubelet listens (its HTTPS API).
const KubeletPort = 10250

// DialNodes measures whether this host reaches every node's InternalIP
// over TCP (at the kubelet's port, which every node serves), as what runs
// on this host and dials NodePorts needs (the NLB emulator). It returns
// the first node it cannot reach, with the dial error.
func (l *Lab) DialNodes(ctx context.Context) error {
	list, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var d net.Dialer
	for _, n := range list.Items {
		ip := ""
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
				break
			}
		}
		if ip == "" {
			return fmt.Errorf("node %s has no InternalIP", n.Name)
		}
		dctx, cancel := context.WithTimeout(ctx, nodeDialTimeout)
		c, err := d.DialContext(dctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(KubeletPort)))
		cancel()
		if err != nil {
			return fmt.Errorf("this host cannot reach node %s at its InternalIP %s (tcp/%d): %w", n.Name, ip, KubeletPort, err)
		}
		_ = c.Close()
	}
	return nil
}
