package scenarios

// Need is a requirement a driver checks before a scenario's first step.
type Need string

const (
	// NodeContainers: the nodes are containers this host's Docker engine
	// reaches (a lab created by nodelab); node files, kubelet restarts and
	// the nodes' network namespaces are read through them.
	NodeContainers Need = "node-containers"
)

// Unmet returns the reason the first unmet need of ns stops the scenario on
// env's lab, or "" when all are met.
func Unmet(env Env, ns []Need) string {
	for _, n := range ns {
		switch n {
		case NodeContainers:
			if env.Lab != nil && env.Lab.Attached {
				return "requires a lab created by nodelab (node containers reachable through Docker); this run is attached to " + env.Lab.Kubeconfig
			}
		}
	}
	return ""
}
