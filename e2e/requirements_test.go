package e2e

import (
	"github.com/onsi/ginkgo/v2"

	"github.com/nodelab/nodelab/scenarios"
)

// requireKindNodes skips a spec that needs Docker access to the nodes when
// the lab is attached by kubeconfig (the same check and reason as a
// scenario's scenarios.NodeAccess need).
func requireKindNodes() {
	ginkgo.GinkgoHelper()
	if reason := scenarios.Unmet(theEnv, []scenarios.Need{scenarios.NodeAccess}); reason != "" {
		ginkgo.Skip(reason)
	}
}
