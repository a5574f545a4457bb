// Package builtin lists every addon nodelab ships. Programs that install
// addons by name (the CLI, the e2e suite) pass All() as addon.Options.Known.
package builtin

import (
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/chaosmesh"
	"github.com/nodelab/nodelab/lab/addon/multinetworkpolicy"
	"github.com/nodelab/nodelab/lab/addon/multus"
	"github.com/nodelab/nodelab/lab/addon/networkpolicies"
)

// All returns the addons, one entry each; a new addon gets one line here.
func All() []addon.Addon {
	return []addon.Addon{chaosmesh.Addon{}, multinetworkpolicy.Addon{}, multus.Addon{}, networkpolicies.Addon{}}
}
