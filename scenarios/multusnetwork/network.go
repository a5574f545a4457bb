package multusnetwork

import "net/netip"

// The secondary network of the fixtures (multus-network/network.yaml and
// pods.yaml), as the steps check it.
const (
	// NAD is the NetworkAttachmentDefinition the pods attach.
	NAD = "lab-bridge"
	// Bridge is the Linux bridge the NAD creates on the node.
	Bridge = "nodelab-br0"
	// Port is where the agnhost servers listen, on every interface.
	Port = 8080
	// Net1 is the interface name Multus gives the first extra network.
	Net1 = "net1"
)

// Range is the NAD's subnet (the seed's).
var Range = netip.MustParsePrefix("10.10.0.0/24")
