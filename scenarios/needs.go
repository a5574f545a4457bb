package scenarios

import "fmt"

// Need is a requirement a driver checks before a scenario's first step.
type Need string

const (
	// NodeAccess: nodelab can run commands on every node (measured):
	// kind node containers through this host's Docker engine (a lab
	// nodelab created, or any kind cluster on this host), or node agent
	// pods on any other cluster. Node files, kubelet restarts and the
	// nodes' network namespaces are reached through them.
	NodeAccess Need = "node-access"
	// NodeChanges: the scenario changes nodes (rewrites the kubelet's
	// config and restarts it, fills a node's memory). On a cluster nodelab
	// did not create it runs only when the user allowed it
	// (-nodelab.allow-node-changes, nodelab run --allow-node-changes).
	NodeChanges Need = "node-changes"
)

// Unmet returns the reason the first unmet need of ns stops the scenario on
// env's lab, or "" when all are met.
func Unmet(env Env, ns []Need) string {
	if env.Lab == nil {
		return ""
	}
	for _, n := range ns {
		switch n {
		case NodeAccess:
			if err := env.Lab.NodeAccess(); err != nil {
				return fmt.Sprintf("requires node access (kind node containers through this host's Docker engine, or node agent pods); measured on %s: %v", env.Lab.Name, err)
			}
		case NodeChanges:
			if env.Lab.Attached && !env.AllowNodeChanges {
				return fmt.Sprintf("changes nodes (kubelet config and restart, memory pressure) of %s, a cluster nodelab did not create: allow it with -nodelab.allow-node-changes (make e2e GINKGO_FLAGS=-nodelab.allow-node-changes) or nodelab run --allow-node-changes", env.Lab.Name)
			}
		}
	}
	return ""
}

// NodeAccessWithoutKubelet returns a NotApplicable when the lab's nodes
// are reached only through node agent pods, whose exec streams the kubelet
// serves: a step that stops or breaks the kubelet (what it does, e.g.
// "the leak stops the worker's kubelet") would cut its own access. Kind
// node containers through this host's Docker engine do not depend on it.
func NodeAccessWithoutKubelet(env Env, what string) error {
	if err := env.Lab.DockerAccess(); err != nil {
		return Skipf("%s, and node agent pods are reached through the kubelet: needs the node containers through this host's Docker engine; measured on %s: %v", what, env.Lab.Name, err)
	}
	return nil
}
