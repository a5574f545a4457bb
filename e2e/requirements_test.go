package e2e

import (
	"context"
	"errors"

	"github.com/onsi/ginkgo/v2"

	"github.com/nodelab/nodelab/scenarios"
)

// run executes one runbook step inside a spec: a NotApplicable step skips
// with its precise reason (which reaches JUnit's <skipped>); any other error
// fails the spec with what the step observed.
func run(ctx ginkgo.SpecContext, step func(context.Context) error) {
	ginkgo.GinkgoHelper()
	err := step(ctx)
	var na *scenarios.NotApplicable
	if errors.As(err, &na) {
		ginkgo.Skip(na.Reason)
	}
	if err != nil {
		ginkgo.Fail(err.Error())
	}
}

// requireKindNodes skips a spec that needs Docker access to the nodes when
// the lab is attached by kubeconfig.
func requireKindNodes() {
	ginkgo.GinkgoHelper()
	if theLab.Attached {
		ginkgo.Skip("requires a lab created by nodelab (node containers reachable through Docker); this run is attached to " + theLab.Kubeconfig)
	}
}
