package lab

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/images"
)

// NodeAccess is nil when nodelab reaches the lab's nodes as kind node
// containers through this host's Docker engine (any kind cluster on this
// host, whoever created it), and otherwise says what was measured. Node
// files, kubelet restarts and the nodes' network namespaces need it.
func (l *Lab) NodeAccess() error {
	if l.provider != nil && l.kindCluster != "" {
		return nil
	}
	if l.nodeAccess != nil {
		return l.nodeAccess
	}
	return errors.New("node access was not measured for this lab")
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
