package lab

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func node(name, providerID string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: providerID}}
}

// Node access is measured from what the nodes say they are; a cluster that
// is not kind on docker gets the reason, and no node access.
func TestFindKindNodesRefusesWhatIsNotKindOnDocker(t *testing.T) {
	cases := []struct {
		name  string
		nodes []*corev1.Node
		want  string
	}{
		{"no nodes", nil, "no nodes"},
		{"cloud nodes", []*corev1.Node{node("ip-10-0-1-2", "aws:///eu-west-1a/i-0abc")}, `providerID "aws:///eu-west-1a/i-0abc", not a kind node`},
		{"kubeadm nodes", []*corev1.Node{node("n1", "")}, `providerID "", not a kind node`},
		{"podman", []*corev1.Node{node("k-control-plane", "kind://podman/k/k-control-plane")}, "on docker only"},
		{"two clusters", []*corev1.Node{node("a-control-plane", "kind://docker/a/a-control-plane"), node("b-worker", "kind://docker/b/b-worker")}, "two kind clusters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cs := fake.NewClientset()
			for _, n := range c.nodes {
				if _, err := cs.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			l := &Lab{Name: "ctx", Client: cs, Attached: true}
			l.dockerAccess = l.findKindNodes(context.Background())
			err := l.NodeAccess()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NodeAccess() = %v, want it to say %q", err, c.want)
			}
			if _, kerr := l.KindNodes(); kerr == nil {
				t.Fatal("KindNodes() succeeded without node access")
			}
		})
	}
}
