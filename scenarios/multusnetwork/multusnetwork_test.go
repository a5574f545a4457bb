package multusnetwork

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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
	if a, ok := net1Addr(st); !ok || a.String() != "10.10.0.2" {
		t.Fatalf("net1Addr = %s, %v; want 10.10.0.2", a, ok)
	}
	if _, ok := net1Addr(st[:1]); ok {
		t.Fatal("net1Addr without net1: want false")
	}
	if _, err := NetworkStatus(&corev1.Pod{}); err == nil {
		t.Fatal("no annotation: want an error")
	}
}

// TestConnectTimeoutFlag pins the agnhost connect flag built from the constant.
func TestConnectTimeoutFlag(t *testing.T) {
	if got := "--timeout=" + connectTimeout.String(); got != "--timeout=2s" {
		t.Fatalf("agnhost connect flag %q, want --timeout=2s", got)
	}
}
