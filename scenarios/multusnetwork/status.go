package multusnetwork

import (
	"encoding/json"
	"fmt"
	"net/netip"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
)

// NetworkStatus decodes Multus's network-status annotation of a pod.
func NetworkStatus(p *corev1.Pod) ([]nadv1.NetworkStatus, error) {
	raw, ok := p.Annotations[nadv1.NetworkStatusAnnot]
	if !ok {
		return nil, fmt.Errorf("pod %s/%s has no %s annotation: Multus did not handle it (is 00-multus.conf on node %s?)", p.Namespace, p.Name, nadv1.NetworkStatusAnnot, p.Spec.NodeName)
	}
	var st []nadv1.NetworkStatus
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, fmt.Errorf("pod %s/%s annotation %s: %w", p.Namespace, p.Name, nadv1.NetworkStatusAnnot, err)
	}
	return st, nil
}

// net1Addr is the first address of the Net1 interface in a network status
// (false: no Net1, or its first address does not parse).
func net1Addr(st []nadv1.NetworkStatus) (netip.Addr, bool) {
	for _, s := range st {
		if s.Interface == Net1 && len(s.IPs) > 0 {
			if a, err := netip.ParseAddr(s.IPs[0]); err == nil {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}
