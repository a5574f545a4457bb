// Package builtin registers every addon nodelab ships with the addon
// registry (lab/addon). Programs that install addons by name (the CLI, the
// e2e suite) import it for its side effect.
package builtin

import (
	// Each addon package registers itself in init.
	_ "github.com/nodelab/nodelab/lab/addon/chaosmesh"
	_ "github.com/nodelab/nodelab/lab/addon/multinetworkpolicy"
	_ "github.com/nodelab/nodelab/lab/addon/multus"
)
