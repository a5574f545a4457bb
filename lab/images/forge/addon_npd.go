package forge

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// binNPD is node-problem-detector's binary name in CacheDir/bin.
const binNPD = "node-problem-detector"

// npdPkg is its main package.
const npdPkg = images.NodeProblemDetectorModule + "/cmd/nodeproblemdetector"

// npdRecipe builds node-problem-detector statically (CGO_ENABLED=0) from a
// wrapper module: its go.mod has no replace directives. Without the
// journald build tag (upstream's Makefile adds it with cgo for its
// systemd log monitor), the kernel monitor reads /dev/kmsg, which is what
// the lab uses. ldflags as upstream's Makefile (pkg/version.version).
func (b *goBuilder) npdRecipe() goRecipe {
	v := images.NodeProblemDetectorVersion
	return b.wrapperRecipe(wrapper{
		step: "go-node-problem-detector", title: "Building node-problem-detector " + v, dir: "node-problem-detector",
		mods:    map[string]string{images.NodeProblemDetectorModule: v},
		pkgs:    []string{npdPkg},
		ldflags: "-s -w -X " + images.NodeProblemDetectorModule + "/pkg/version.version=" + v,
		outputs: []output{{from: "nodeproblemdetector", name: binNPD}},
		keyMod:  images.NodeProblemDetectorModule, keyVersion: v,
	})
}

// npdBins puts the binary where upstream's image has it.
var npdBins = []binFile{{binNPD, "/node-problem-detector"}}

// npdConfig: upstream's image runs /node-problem-detector with the
// monitors' configs given as flags (the fixture passes its own).
var npdConfig = v1.Config{
	Entrypoint: []string{"/node-problem-detector"},
	WorkingDir: "/",
}

// npdImageRecipe: the static binary on the skeleton and busybox. No
// Debian packages: the kernel monitor only reads /dev/kmsg.
func npdImageRecipe(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	return goImageSteps(ctx, f, img, (*goBuilder).npdRecipe, npdBins, npdConfig)
}

// goImageSteps are the steps of an image that holds one Go recipe's
// binaries on the skeleton and busybox (no Debian packages).
func goImageSteps(ctx context.Context, f *Forge, img images.Image, recipe func(*goBuilder) goRecipe, bins []binFile, cfg v1.Config) ([]stepSpec, error) {
	b, err := f.newGoBuilder(ctx)
	if err != nil {
		return nil, err
	}
	turn := 0
	gostep, err := b.stepFor(ctx, recipe(b), &turn)
	if err != nil {
		return nil, err
	}
	return []stepSpec{f.rootfsStep(), f.netbaseStep(), gostep,
		f.chaosImageStep(img, gostep.key, bins, nil, cfg)}, nil
}
