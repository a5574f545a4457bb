package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	utilexec "k8s.io/client-go/util/exec"
	kindexec "sigs.k8s.io/kind/pkg/exec"

	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/podexec"
)

// NodeAgentOptions say whether nodelab may reach the nodes of an attached
// cluster through node agent pods when they are not kind node containers on
// this host, and with which image.
type NodeAgentOptions struct {
	// Enabled lets Attach start one privileged agent pod per node (in a
	// namespace of its own, deleted by Close) when Docker cannot reach the
	// nodes. Nothing on the nodes changes: the pods only run commands
	// nodelab asks for.
	Enabled bool
	// Image runs the agents. It needs nsenter and a way to idle; the
	// default is the Kubernetes e2e image agnhost (`agnhost pause`, busybox
	// nsenter), one of the lab's workload images.
	Image string
	// Command keeps the agent container idle; default `/agnhost pause`.
	// Another image needs its own (for example sleep infinity).
	Command []string
}

// NodeAgentPodLabel marks node agent pods and their namespace.
const NodeAgentPodLabel = "nodelab.io/node-agent"

// nodeAgentPrefix names the agents' namespace (<prefix>-<random>).
const nodeAgentPrefix = "nodelab-node-agent"

// nsenterPID1 runs a command in every namespace of the node's PID 1 (mount,
// UTS, IPC, network, PID): what `docker exec` into a kind node container
// gives, on any node. Both util-linux's and busybox's nsenter take it.
var nsenterPID1 = []string{"nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--"}

// nodeAgents are the running agent pods of a lab, by node name.
type nodeAgents struct {
	namespace string
	image     string
	pods      map[string]string
	workers   []string
}

// startNodeAgents creates one agent pod per node, waits until each runs,
// and checks that each can run a command on its node. On failure it
// deletes what it created.
func (l *Lab) startNodeAgents(ctx context.Context, opts NodeAgentOptions) (err error) {
	image, command := opts.Image, opts.Command
	if image == "" {
		image = images.AgnhostImage
	}
	if len(command) == 0 {
		command = []string{"/agnhost", "pause"}
	}
	list, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("node agents: list nodes: %w", err)
	}
	if len(list.Items) == 0 {
		return errors.New("node agents: the cluster has no nodes")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: nodeAgentPrefix + "-",
		Labels: map[string]string{
			manifest.ManagedByLabel: manifest.ManagedByValue,
			NodeAgentPodLabel:       "true",
			// The agents are privileged by design; a cluster that enforces
			// Pod Security by namespace label admits them here only.
			"pod-security.kubernetes.io/enforce": "privileged",
		},
	}}
	got, err := l.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: "nodelab"})
	if err != nil {
		return fmt.Errorf("node agents: create namespace %s-* (RBAC: create namespaces): %w", nodeAgentPrefix, err)
	}
	a := &nodeAgents{namespace: got.Name, image: image, pods: map[string]string{}}
	defer func() {
		if err != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nodeAgentStopTimeout)
			defer cancel()
			err = errors.Join(err, l.DeleteNamespace(dctx, a.namespace, nodeAgentStopTimeout))
		}
	}()
	for i, n := range list.Items {
		name := "agent-" + n.Name
		if len(name) > validation.DNS1123SubdomainMaxLength {
			name = fmt.Sprintf("agent-%d", i)
		}
		pod := nodeAgentPod(name, n.Name, image, command)
		if _, err := l.Client.CoreV1().Pods(a.namespace).Create(ctx, pod, metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
			return fmt.Errorf("node agents: create pod for node %s in %s (RBAC: create pods; Pod Security: privileged, hostPID, hostNetwork): %w", n.Name, a.namespace, err)
		}
		a.pods[n.Name] = pod.Name
		if _, cp := n.Labels["node-role.kubernetes.io/control-plane"]; !cp {
			a.workers = append(a.workers, n.Name)
		}
	}
	sort.Strings(a.workers)
	for node, pod := range a.pods {
		if _, err := l.WaitPodRunning(ctx, a.namespace, pod, nodeAgentStartTimeout); err != nil {
			return fmt.Errorf("node agent on %s (image %s; --node-agent-image sets another): %w", node, image, err)
		}
	}
	l.agents = a
	for node := range a.pods {
		out, err := nodeexec.Run(ctx, l.agentNode(node), "cat", "/proc/1/comm")
		if err != nil {
			l.agents = nil
			return fmt.Errorf("node agent on %s cannot enter the node's namespaces (image %s needs nsenter; RBAC: create pods/exec): %w", node, image, err)
		}
		if strings.TrimSpace(out) == "" {
			l.agents = nil
			return fmt.Errorf("node agent on %s: the node's PID 1 has no name", node)
		}
	}
	return nil
}

// nodeAgentPod is the agent for one node: pinned by nodeName (no
// scheduler, every taint tolerated), in the node's PID, network and IPC
// namespaces, privileged so nsenter may enter PID 1's namespaces, and
// system-node-critical so the kubelet never evicts it under the memory
// pressure a scenario causes.
func nodeAgentPod(name, node, image string, command []string) *corev1.Pod {
	privileged := true
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			manifest.ManagedByLabel: manifest.ManagedByValue,
			NodeAgentPodLabel:       "true",
		}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			HostPID:                       true,
			HostNetwork:                   true,
			HostIPC:                       true,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			PriorityClassName:             "system-node-critical",
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  new(bool),
			Containers: []corev1.Container{{
				Name:            "agent",
				Image:           image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         command,
				SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					// Commands nodelab runs (journalctl, crictl) run in this
					// container's cgroup: room for them, a bound for a node.
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
			}},
		},
	}
}

// stopNodeAgents deletes the agents' namespace and waits until it is gone.
func (l *Lab) stopNodeAgents(ctx context.Context) error {
	if l.agents == nil {
		return nil
	}
	ns := l.agents.namespace
	l.agents = nil
	if err := l.DeleteNamespace(ctx, ns, nodeAgentStopTimeout); err != nil {
		return fmt.Errorf("node agents: %w", err)
	}
	return nil
}

// agentNode is a node reached through its agent pod.
type agentNode struct {
	l         *Lab
	node, pod string
	namespace string
}

func (l *Lab) agentNode(node string) nodeexec.Node {
	return agentNode{l: l, node: node, pod: l.agents.pods[node], namespace: l.agents.namespace}
}

// String is the node's name.
func (n agentNode) String() string { return n.node }

// CommandContext runs cmd in the node's namespaces through the agent pod.
func (n agentNode) CommandContext(ctx context.Context, cmd string, args ...string) kindexec.Cmd {
	return &agentCmd{ctx: ctx, n: n, argv: append([]string{cmd}, args...)}
}

// agentCmd is kind's exec.Cmd over pods/exec.
type agentCmd struct {
	ctx            context.Context
	n              agentNode
	argv, env      []string
	stdin          io.Reader
	stdout, stderr io.Writer
}

func (c *agentCmd) SetEnv(env ...string) kindexec.Cmd  { c.env = env; return c }
func (c *agentCmd) SetStdin(r io.Reader) kindexec.Cmd  { c.stdin = r; return c }
func (c *agentCmd) SetStdout(w io.Writer) kindexec.Cmd { c.stdout = w; return c }
func (c *agentCmd) SetStderr(w io.Writer) kindexec.Cmd { c.stderr = w; return c }

// Run runs the command. A command that ran and exited non-zero returns
// client-go's exec.CodeExitError (an ExitError with the status), as a
// local command returns *exec.ExitError.
func (c *agentCmd) Run() error {
	argv := append([]string{}, nsenterPID1...)
	if len(c.env) > 0 {
		argv = append(append(append(argv, "env"), c.env...), c.argv...)
	} else {
		argv = append(argv, c.argv...)
	}
	stdout, stderr := c.stdout, c.stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	t := podexec.Target{Namespace: c.n.namespace, Pod: c.n.pod, Container: "agent"}
	err := podexec.Stream(c.ctx, c.n.l.Config, c.n.l.Client, t, podexec.Streams{Stdin: c.stdin, Stdout: stdout, Stderr: stderr}, argv...)
	if err == nil {
		return nil
	}
	if exit := (utilexec.ExitError)(nil); errors.As(err, &exit) {
		return exit
	}
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("node agent %s/%s of node %s is gone: %w", c.n.namespace, c.n.pod, c.n.node, err)
	}
	return fmt.Errorf("through node agent %s/%s: %w", c.n.namespace, c.n.pod, err)
}
