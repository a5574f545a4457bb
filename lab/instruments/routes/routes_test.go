package routes

import (
	"net/netip"
	"reflect"
	"testing"
)

// lab is a secondary network range as multus-network uses it.
var lab = netip.MustParsePrefix("10.10.0.0/24")

func TestOverlapping(t *testing.T) {
	routes := `default via 172.18.0.1 dev eth0
10.244.1.0/24 via 172.18.0.3 dev eth0
10.10.0.0/16 via 172.18.0.9 dev eth0
unreachable 10.10.0.0/24
local 10.10.0.7 dev nodelab-br0 table local proto kernel scope host src 10.10.0.7
broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1
10.10.1.0/24 dev br1 proto kernel scope link src 10.10.1.1
`
	got := Overlapping(routes, lab)
	want := []string{
		"10.10.0.0/16 via 172.18.0.9 dev eth0",
		"local 10.10.0.7 dev nodelab-br0 table local proto kernel scope host src 10.10.0.7",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("overlapping = %q, want %q", got, want)
	}
	if got := Overlapping("default via 10.0.0.1 dev eth0\n10.244.0.0/16 dev cni0\n", lab); len(got) != 0 {
		t.Fatalf("a lab without the range: %q", got)
	}
}
