package forge

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// Multus CNI in thin mode (docs/research/multus-offline.md §1): the thin
// plugin and passthru, which install_multus (the DaemonSet's init
// container) copies to the node's /opt/cni/bin from paths it hard-codes,
// and thin_entrypoint, which writes 00-multus.conf. Thick mode
// (multus-daemon, multus-shim), kubeconfig_generator and cert-approver are
// not built: the thin DaemonSet runs none of them.
//
// Names in CacheDir/bin; prefixed where upstream's name is generic.
const (
	binMultus               = "multus"
	binMultusPassthru       = "multus-passthru"
	binMultusInstall        = "multus-install_multus"
	binMultusThinEntrypoint = "multus-thin_entrypoint"
)

// multusLDFlags are hack/build-go.sh's version flag (the other -X flags
// there, commit, gitTreeState, releaseStatus and date, come from git and
// the clock), stripped like every forge binary.
const multusLDFlags = "-s -w -X " + images.MultusModule + "/pkg/multus.version=" + images.MultusVersion

// multusRecipe builds the four thin-mode binaries statically
// (CGO_ENABLED=0, as hack/build-go.sh does) from a wrapper module that
// requires only multus, not aligned on Kubernetes: multus's go.mod has no
// replaces, so the build list is its own (client-go v0.34.1).
func (b *goBuilder) multusRecipe() goRecipe {
	m, v := images.MultusModule, images.MultusVersion
	return b.wrapperRecipe(wrapper{
		step: "go-multus", title: "Building Multus CNI " + v + " (thin plugin, passthru, install_multus, thin_entrypoint)", dir: "multus",
		mods:    map[string]string{m: v},
		pkgs:    []string{m + "/cmd/multus", m + "/cmd/passthru-cni", m + "/cmd/install_multus", m + "/cmd/thin_entrypoint"},
		ldflags: multusLDFlags,
		// go build names each binary after its package folder.
		outputs: []output{
			{from: "multus", name: binMultus},
			{from: "passthru-cni", name: binMultusPassthru},
			{from: "install_multus", name: binMultusInstall},
			{from: "thin_entrypoint", name: binMultusThinEntrypoint},
		},
		keyMod: m, keyVersion: v,
	})
}

// multusBins are the binaries at upstream's image paths (images/Dockerfile;
// install_multus copies /usr/src/multus-cni/bin/{multus,passthru}).
var multusBins = []binFile{
	{binMultus, "/usr/src/multus-cni/bin/multus"},
	{binMultusPassthru, "/usr/src/multus-cni/bin/passthru"},
	{binMultusInstall, "/install_multus"},
	{binMultusThinEntrypoint, "/thin_entrypoint"},
}

// multusConfig is upstream's: ENTRYPOINT /thin_entrypoint, WORKDIR /. The
// DaemonSet runs it privileged as root, so no User is set.
var multusConfig = v1.Config{Entrypoint: []string{"/thin_entrypoint"}, WorkingDir: "/"}

// multusImageRecipe: the static binaries on the skeleton (users, /tmp)
// and busybox (not needed, it only helps debugging).
func multusImageRecipe(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	b, err := f.newGoBuilder(ctx)
	if err != nil {
		return nil, err
	}
	return b.multusSteps(ctx, img)
}

func (b *goBuilder) multusSteps(ctx context.Context, img images.Image) ([]stepSpec, error) {
	turn := 0
	gostep, err := b.stepFor(ctx, b.multusRecipe(), &turn)
	if err != nil {
		return nil, err
	}
	f := b.f
	return []stepSpec{f.rootfsStep(), f.netbaseStep(), gostep,
		f.chaosImageStep(img, gostep.key, multusBins, nil, multusConfig)}, nil
}
