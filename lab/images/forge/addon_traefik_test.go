package forge

import (
	"context"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/nodelab/nodelab/lab/images"
)

// traefikTestBuilder answers the traefik module lookup without the network.
func traefikTestBuilder(t *testing.T, goVersion string) *goBuilder {
	t.Helper()
	return testBuilder(t, goVersion, map[string]string{images.TraefikModule + "@" + images.TraefikVersion: "h1:traefik"})
}

func TestTraefikImageLayout(t *testing.T) {
	if _, ok := addonRecipeFor(images.TraefikImageName); !ok {
		t.Fatalf("no forge recipe registered for %s", images.TraefikImageName)
	}
	b := traefikTestBuilder(t, "go1.26.8")
	r := b.traefikRecipe()
	if want := same(binTraefik); !reflect.DeepEqual(r.outputs, want) {
		t.Errorf("outputs %v, want %v (go build names ./cmd/traefik traefik)", r.outputs, want)
	}
	// The docker library image's layout.
	if want := []binFile{{binTraefik, "/usr/local/bin/traefik"}}; !reflect.DeepEqual(traefikBins, want) {
		t.Errorf("image files %v, want %v", traefikBins, want)
	}
	if got := traefikConfig.Entrypoint; !reflect.DeepEqual(got, []string{"/usr/local/bin/traefik"}) {
		t.Errorf("entrypoint %q, want [/usr/local/bin/traefik]", got)
	}
	if _, ok := traefikConfig.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("exposed ports %v lack 80/tcp", traefikConfig.ExposedPorts)
	}
	if traefikConfig.User != "" {
		t.Errorf("user %q: the pod runs it as root to bind :80, leave it unset", traefikConfig.User)
	}
	for _, other := range b.recipes() {
		for _, o := range other.outputs {
			if o.name == binTraefik {
				t.Errorf("%s is also an output of %s", binTraefik, other.name)
			}
		}
	}
}

func TestTraefikBuildIsStaticWithItsVersion(t *testing.T) {
	if want := "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=" + images.TraefikVersion; traefikLDFlags != want {
		t.Errorf("ldflags %q, want %q", traefikLDFlags, want)
	}
	env := goEnv()
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("goEnv() = %q: the go build is not CGO_ENABLED=0", env)
	}
	b := traefikTestBuilder(t, "go1.26.8")
	parts, err := b.traefikRecipe().inputs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(parts, "h1:traefik") || !slices.Contains(parts, traefikLDFlags) || !slices.Contains(parts, traefikPkg) {
		t.Errorf("key inputs %q lack the module sum, the ldflags or the package", parts)
	}
	if !slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(p, "providers/dns") }) {
		t.Errorf("key inputs %q lack the source patches (a changed patch must rebuild)", parts)
	}

	steps, err := b.traefikSteps(context.Background(), images.Traefik())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.name)
	}
	if want := []string{"rootfs", "netbase", "go-traefik", "image-traefik"}; !reflect.DeepEqual(names, want) {
		t.Errorf("steps %q, want %q", names, want)
	}
	steps2, err := traefikTestBuilder(t, "go1.26.9").traefikSteps(context.Background(), images.Traefik())
	if err != nil {
		t.Fatal(err)
	}
	if steps[2].key == steps2[2].key || steps[3].key == steps2[3].key {
		t.Error("the Go step's or the image's key did not change with the go version")
	}
}

// TestTraefikMatchesUpstreamSource checks the recipe against the module's
// source when it is in the module cache (tests never download).
func TestTraefikMatchesUpstreamSource(t *testing.T) {
	dir := moduleSource(t, images.TraefikModule, images.TraefikVersion)
	if dir == "" {
		t.Skipf("%s@%s is not in the module cache", images.TraefikModule, images.TraefikVersion)
	}
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if !strings.Contains(read("pkg/version/version.go"), `Version = "dev"`) {
		t.Error(`pkg/version has no Version = "dev": update traefikLDFlags`)
	}
	if x := "-X " + images.TraefikModule + "/pkg/version.Version="; !strings.Contains(read("Makefile"), x) {
		t.Errorf("the Makefile no longer sets %s…: update traefikLDFlags", x)
	}
	if !strings.Contains(read("Makefile"), "CGO_ENABLED=0") {
		t.Error("upstream no longer builds with CGO_ENABLED=0: check the recipe")
	}
	if _, err := os.Stat(filepath.Join(dir, traefikPkg, "traefik.go")); err != nil {
		t.Errorf("main package moved: %v", err)
	}
	f, err := modfile.Parse("go.mod", []byte(read("go.mod")), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing skipped from the copy is needed: a relative replace or an
	// embed pointing there would break the build.
	for _, r := range f.Replace {
		for _, s := range traefikCopySkip {
			if p := filepath.Clean(r.New.Path); p == s || strings.HasPrefix(p, s+"/") {
				t.Errorf("replace %s => %s points into %s, which the copy skips", r.Old.Path, r.New.Path, s)
			}
		}
	}

	// The patches apply to this version's source, and the patched file
	// still parses and no longer names lego's providers/dns package.
	copyDir := t.TempDir()
	for _, p := range traefikPatches {
		dst := filepath.Join(copyDir, p.file)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(read(p.file)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := applyPatches(copyDir, traefikPatches); err != nil {
		t.Fatal(err)
	}
	patched := filepath.Join(copyDir, "pkg/provider/acme/provider.go")
	pf, err := parser.ParseFile(token.NewFileSet(), patched, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatalf("patched provider.go does not parse: %v", err)
	}
	for _, imp := range pf.Imports {
		if strings.Contains(imp.Path.Value, "lego/v4/providers/dns") {
			t.Errorf("patched provider.go still imports %s", imp.Path.Value)
		}
	}
	if b, _ := os.ReadFile(patched); strings.Contains(string(b), "dns.NewDNSChallengeProviderByName") {
		t.Error("patched provider.go still calls dns.NewDNSChallengeProviderByName")
	}
}
