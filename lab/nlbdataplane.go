package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/nlbnet"
)

// StartNLBDataPlane starts the container an NLB emulator dials ip targets
// from (lab/nlbnet), on the lab's docker network, from the lab's node
// image, with a route to every node's podCIDR via that node's InternalIP.
// The host's routing table is not touched. Close it when done; Down
// removes it too.
func (l *Lab) StartNLBDataPlane(ctx context.Context, logger *slog.Logger) (*nlbnet.DataPlane, error) {
	if err := l.DockerAccess(); err != nil {
		return nil, fmt.Errorf("ip targets need kind nodes on this host: the data plane joins the cluster's docker network (%w)", err)
	}
	if l.Image.Image == "" {
		return nil, fmt.Errorf("lab %s: no node image recorded to run the data-plane container from", l.Name)
	}
	nodes, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var routes []nlbnet.Route
	for _, n := range nodes.Items {
		var ip netip.Addr
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip, _ = netip.ParseAddr(a.Address)
			}
		}
		cidr, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if !ip.IsValid() || err != nil {
			return nil, fmt.Errorf("node %s: InternalIP %v, podCIDR %q: the data plane needs both", n.Name, ip, n.Spec.PodCIDR)
		}
		routes = append(routes, nlbnet.Route{Prefix: cidr, Via: ip})
	}
	return nlbnet.Start(ctx, nlbnet.Options{Lab: l.Name, Image: l.Image.Image, Routes: routes, Logger: logger})
}
