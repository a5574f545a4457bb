package multusnetwork

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOverlapping(t *testing.T) {
	routes := `default via 172.18.0.1 dev eth0
10.244.1.0/24 via 172.18.0.3 dev eth0
10.10.0.0/16 via 172.18.0.9 dev eth0
unreachable 10.10.0.0/24
local 10.10.0.7 dev nodelab-br0 table local proto kernel scope host src 10.10.0.7
broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1
10.10.1.0/24 dev br1 proto kernel scope link src 10.10.1.1
`
	got := overlapping(routes, Range)
	want := []string{
		"10.10.0.0/16 via 172.18.0.9 dev eth0",
		"local 10.10.0.7 dev nodelab-br0 table local proto kernel scope host src 10.10.0.7",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("overlapping = %q, want %q", got, want)
	}
	if got := overlapping("default via 10.0.0.1 dev eth0\n10.244.0.0/16 dev cni0\n", Range); len(got) != 0 {
		t.Fatalf("a lab without the range: %q", got)
	}
}

func TestNetworkStatus(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "server", Annotations: map[string]string{
		"k8s.v1.cni.cncf.io/network-status": `[{"name":"cbr0","interface":"eth0","ips":["10.244.1.5"],"default":true},{"name":"ns/lab-bridge","interface":"net1","ips":["10.10.0.2"],"mac":"aa:bb:cc:dd:ee:ff"}]`}}}
	st, err := NetworkStatus(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[1].Interface != "net1" || st[1].IPs[0] != "10.10.0.2" || !st[0].Default {
		t.Fatalf("status %+v", st)
	}
	if _, err := NetworkStatus(&corev1.Pod{}); err == nil {
		t.Fatal("no annotation: want an error")
	}
}
