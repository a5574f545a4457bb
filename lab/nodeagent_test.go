package lab

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The choice of node access: Docker when the nodes are kind containers on
// this host, node agents when they run, otherwise none with both reasons.
func TestNodeAccessChoosesWhatWasMeasured(t *testing.T) {
	noDocker := errors.New(`node n1 has providerID "aws:///x", not a kind node`)

	off := &Lab{Name: "c", Attached: true, dockerAccess: noDocker, agentAccess: errors.New("node agents are off")}
	if err := off.NodeAccess(); err == nil || !strings.Contains(err.Error(), "not a kind node") || !strings.Contains(err.Error(), "node agents are off") {
		t.Errorf("NodeAccess() without Docker and agents = %v, want both reasons", err)
	}
	if _, err := off.Nodes(); err == nil {
		t.Error("Nodes() succeeded without node access")
	}

	withAgents := &Lab{Name: "c", Attached: true, dockerAccess: noDocker, agents: &nodeAgents{
		namespace: "nodelab-node-agent-x", image: "agnhost",
		pods:    map[string]string{"n2": "agent-n2", "cp": "agent-cp", "n1": "agent-n1"},
		workers: []string{"n1", "n2"},
	}}
	if err := withAgents.NodeAccess(); err != nil {
		t.Fatalf("NodeAccess() with agents = %v, want nil", err)
	}
	if err := withAgents.DockerAccess(); err == nil {
		t.Error("DockerAccess() with agents only = nil, want the Docker measurement")
	}
	if _, err := withAgents.KindNodes(); err == nil {
		t.Error("KindNodes() succeeded through agents: loading images and kind's log export need the containers")
	}
	all, err := withAgents.Nodes()
	if err != nil || names(all) != "cp,n1,n2" {
		t.Errorf("Nodes() = %v, %v; want cp,n1,n2", names(all), err)
	}
	workers, err := withAgents.Workers()
	if err != nil || names(workers) != "n1,n2" {
		t.Errorf("Workers() = %v, %v; want n1,n2", names(workers), err)
	}
	if n, err := withAgents.Node("n2"); err != nil || n.String() != "n2" {
		t.Errorf("Node(n2) = %v, %v", n, err)
	}
	if _, err := withAgents.Node("elsewhere"); err == nil {
		t.Error("Node(elsewhere) found a node the lab does not have")
	}
	if got := withAgents.NodeAccessText(); !strings.Contains(got, "node agent pods in namespace nodelab-node-agent-x") {
		t.Errorf("NodeAccessText() = %q", got)
	}
}

func names[T interface{ String() string }](ns []T) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.String())
	}
	return strings.Join(out, ",")
}

// An agent whose image cannot be pulled fails the start within seconds,
// naming the image, and leaves no namespace behind.
func TestNodeAgentsFailFastAndLeaveNothing(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w1"}},
	)
	cs.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ns := a.(k8stesting.CreateAction).GetObject().(*corev1.Namespace)
		if ns.Name == "" {
			ns.Name = ns.GenerateName + "abcde"
		}
		return false, nil, nil
	})
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "agent", Image: p.Spec.Containers[0].Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}},
		}}}
		if !p.Spec.HostPID || !p.Spec.HostNetwork || p.Spec.NodeName == "" || len(p.Spec.Tolerations) != 1 || p.Spec.Tolerations[0].Operator != corev1.TolerationOpExists {
			t.Errorf("agent pod %s: want hostPID, host network, pinned by nodeName, every taint tolerated; got %+v", p.Name, p.Spec)
		}
		return false, nil, nil
	})
	l := &Lab{Name: "c", Client: cs, Attached: true}
	start := time.Now()
	err := l.startNodeAgents(context.Background(), NodeAgentOptions{Image: "registry.example/agent:1"})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("startNodeAgents took %s, want < 10s", took)
	}
	for _, want := range []string{"registry.example/agent:1", "ErrImagePull", "--node-agent-image"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("startNodeAgents error = %v, want it to contain %q", err, want)
		}
	}
	if l.NodeAccess() == nil {
		t.Error("NodeAccess() = nil after the agents failed")
	}
	nss, lerr := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if lerr != nil || len(nss.Items) != 0 {
		t.Errorf("namespaces left after a failed start: %v (%v)", nss.Items, lerr)
	}
}
