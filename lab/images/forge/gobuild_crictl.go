package forge

import (
	_ "embed"
	"strings"

	"github.com/nodelab/nodelab/lab/images"
)

// The crictl stand-in's sources: a stdlib-only core (unit-tested in
// recipes/crictl) and a gRPC main the main module never builds.
var (
	//go:embed recipes/crictl/crictl.go
	crictlCore string
	//go:embed recipes/crictl/main.go
	crictlMain string
)

// crictlModulePath is the generated module; main.go imports its core as
// crictlModulePath + "/crictl".
const crictlModulePath = "nodelab-forge/crictl"

// stripIgnoreConstraint removes the `//go:build ignore` line that keeps a
// recipe main out of the main module.
func stripIgnoreConstraint(src string) string {
	return strings.Replace(src, "//go:build ignore\n\n", "", 1)
}

func (b *goBuilder) crictlRecipe() goRecipe {
	// The versions are in the generated go.mod, which is part of the key.
	return b.wrapperRecipe(wrapper{
		step: "go-crictl", title: "Building the crictl stand-in", dir: "crictl",
		mods: map[string]string{
			"k8s.io/cri-api":         images.CRIAPIVersion,
			"google.golang.org/grpc": images.GRPCVersion,
		},
		files: map[string]string{
			"main.go":          stripIgnoreConstraint(crictlMain),
			"crictl/crictl.go": crictlCore,
		},
		pkgs:    []string{"."},
		ldflags: "-s -w",
		outputs: []output{{from: "crictl", name: BinCrictl}},
		keyMod:  "k8s.io/cri-api", keyVersion: images.CRIAPIVersion,
	})
}
