package forge

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// binTraefik is the Traefik binary's name in CacheDir/bin.
const binTraefik = "traefik"

// traefikPkg is the main package, relative to the module root.
const traefikPkg = "./cmd/traefik"

// traefikLDFlags are the version flag of upstream's Makefile and
// .goreleaser.yml (pkg/version.Version; the codename and build date come
// from git and the clock), stripped like every forge binary.
const traefikLDFlags = "-s -w -X " + images.TraefikModule + "/pkg/version.Version=" + images.TraefikVersion

// traefikCopySkip are top-level folders of the module the build does not
// need: the integration tests, the docs and the web UI's sources (the
// binary embeds webui/static, which the module zip ships as a placeholder,
// so the forge image has no dashboard assets).
var traefikCopySkip = []string{"integration", "docs", "vendor"}

// traefikPatches leave out what the lab never runs and costs the most to
// compile (measured with the forge's action graph, see the README's
// cold-run table).
//
// provider.go: lego's providers/dns registry imports every ACME DNS-01
// provider lego has and their cloud SDKs. The lab's Traefik serves plain
// HTTP and never asks for a certificate, so a DNS challenge is refused
// with an error that names this build instead; HTTP-01 and TLS-ALPN-01
// challenges are untouched.
var traefikPatches = []sourcePatch{
	{"pkg/provider/acme/provider.go",
		"\t\"github.com/go-acme/lego/v4/providers/dns\"\n",
		"\t// nodelab forge: lego's DNS providers are left out (traefikPatches)\n"},
	{"pkg/provider/acme/provider.go",
		"provider, err = dns.NewDNSChallengeProviderByName(p.DNSChallenge.Provider)",
		`err = fmt.Errorf("DNS challenge provider %q: this Traefik is nodelab's offline lab build, which leaves lego's DNS providers out; use the upstream image for DNS-01", p.DNSChallenge.Provider)`},
}

// traefikRecipe builds traefik statically (CGO_ENABLED=0, as upstream's
// Makefile does) as the main module, from a copy of the module source: its
// go.mod has replace directives, which `go install` and a wrapper module
// ignore. The build list is traefik's own, not aligned on Kubernetes.
func (b *goBuilder) traefikRecipe() goRecipe {
	v := images.TraefikVersion
	src := filepath.Join(b.srcDir, "traefik")
	var mod *moduleInfo
	return goRecipe{
		name:    "go-traefik",
		title:   "Building Traefik " + v,
		outputs: same(binTraefik),
		inputs: func(ctx context.Context) ([]string, error) {
			m, err := b.module(ctx, images.TraefikModule, v)
			if err != nil {
				return nil, err
			}
			mod = m
			return []string{m.Sum, traefikLDFlags, traefikPkg, fmt.Sprint(traefikCopySkip), fmt.Sprintf("%q", traefikPatches)}, nil
		},
		prepare: func(ctx context.Context, log io.Writer) error {
			if err := copyModule(mod.Dir, src, mod.Sum, traefikCopySkip...); err != nil {
				return fmt.Errorf("copy %s: %w", images.TraefikModule, err)
			}
			if err := applyPatches(src, traefikPatches); err != nil {
				return err
			}
			return b.prefetch(ctx, log, src, goTags, traefikPkg)
		},
		build: func(ctx context.Context, log io.Writer, tmp string) error {
			return b.goBuild(ctx, log, src, traefikLDFlags, tmp, traefikPkg)
		},
	}
}

// traefikBins puts the binary where the docker library image has it.
var traefikBins = []binFile{{binTraefik, "/usr/local/bin/traefik"}}

// traefikConfig runs traefik directly (the library image's entrypoint.sh
// only prepends "traefik" to flag arguments). The ingress-rollout pod runs
// it as root to bind port 80, so no User is set.
var traefikConfig = v1.Config{
	Entrypoint:   []string{"/usr/local/bin/traefik"},
	WorkingDir:   "/",
	ExposedPorts: map[string]struct{}{"80/tcp": {}},
}

// traefikImageRecipe: the static binary on the skeleton (users, /tmp) and
// busybox. No CA certificates: the lab's traefik serves plain HTTP to
// in-cluster backends and never calls out (no ACME).
func traefikImageRecipe(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	b, err := f.newGoBuilder(ctx)
	if err != nil {
		return nil, err
	}
	return b.traefikSteps(ctx, img)
}

func (b *goBuilder) traefikSteps(ctx context.Context, img images.Image) ([]stepSpec, error) {
	turn := 0
	gostep, err := b.stepFor(ctx, b.traefikRecipe(), &turn)
	if err != nil {
		return nil, err
	}
	f := b.f
	return []stepSpec{f.rootfsStep(), f.netbaseStep(), gostep,
		f.chaosImageStep(img, gostep.key, traefikBins, nil, traefikConfig)}, nil
}
