package e2e

import (
	"context"

	"github.com/onsi/ginkgo/v2"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/scenarios"
)

// requireNodeAccess skips a spec that runs commands on the nodes when
// nodelab cannot reach them (the same check and reason as a scenario's
// scenarios.NodeAccess need): through Docker or node agents, as measured.
func requireNodeAccess() {
	ginkgo.GinkgoHelper()
	if reason := scenarios.Unmet(theEnv, []scenarios.Need{scenarios.NodeAccess}); reason != "" {
		ginkgo.Skip(reason)
	}
}

// requireDocker skips a spec that creates kind clusters of its own when
// this host's Docker engine does not answer (measured).
func requireDocker(ctx context.Context) {
	ginkgo.GinkgoHelper()
	if err := lab.CheckDocker(ctx); err != nil {
		ginkgo.Skip("creates kind clusters on this host's Docker engine; measured: " + err.Error())
	}
}
