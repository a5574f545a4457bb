package forge

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/nodelab/nodelab/lab/images"
)

// multusTestBuilder answers the multus module lookup without the network.
func multusTestBuilder(t *testing.T) *goBuilder {
	t.Helper()
	return testBuilder(t, "go1.26.8", map[string]string{images.MultusModule + "@" + images.MultusVersion: "h1:multus"})
}

func TestMultusImageLayout(t *testing.T) {
	if _, ok := addonRecipeFor(images.MultusImageName); !ok {
		t.Fatalf("no forge recipe registered for %s", images.MultusImageName)
	}
	b := multusTestBuilder(t)
	r := b.multusRecipe()
	built := map[string]string{} // Bin name → the binary go build writes
	for _, o := range r.outputs {
		built[o.name] = o.from
	}
	paths := map[string]string{}
	for _, bf := range multusBins {
		from, ok := built[bf.bin]
		if !ok {
			t.Errorf("image file %s comes from %s, which the go-multus step does not build", bf.path, bf.bin)
		}
		paths[from] = bf.path
	}
	// Upstream's layout (images/Dockerfile, hack/build-go.sh's output names).
	want := map[string]string{
		"multus":          "/usr/src/multus-cni/bin/multus",
		"passthru-cni":    "/usr/src/multus-cni/bin/passthru",
		"install_multus":  "/install_multus",
		"thin_entrypoint": "/thin_entrypoint",
	}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("go build output → image path:\n got %v\nwant %v", paths, want)
	}
	// go build names each binary after its package's last element.
	pkgs := wrapperPkgs(t, b)
	for _, o := range r.outputs {
		if !slices.ContainsFunc(pkgs, func(p string) bool { return path.Base(p) == o.from }) {
			t.Errorf("output %s is not the name of a built package", o.from)
		}
	}
	if got := multusConfig.Entrypoint; !reflect.DeepEqual(got, []string{"/thin_entrypoint"}) {
		t.Errorf("entrypoint %q, want [/thin_entrypoint]", got)
	}
	if multusConfig.User != "" {
		t.Errorf("user %q: the DaemonSet runs it as root (privileged), leave it unset", multusConfig.User)
	}
	// Every name in CacheDir/bin is unique across recipes.
	for _, o := range r.outputs {
		for _, other := range b.recipes() {
			for _, oo := range other.outputs {
				if oo.name == o.name {
					t.Errorf("%s is also an output of %s", o.name, other.name)
				}
			}
		}
	}
}

// wrapperPkgs are the packages the go-multus step builds, from its command
// line in the key inputs.
func wrapperPkgs(t *testing.T, b *goBuilder) []string {
	t.Helper()
	parts, err := b.multusRecipe().inputs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(parts[2])
}

func TestMultusBuildIsStaticInItsOwnBuildList(t *testing.T) {
	b := multusTestBuilder(t)
	m := images.MultusModule
	wantPkgs := []string{m + "/cmd/multus", m + "/cmd/passthru-cni", m + "/cmd/install_multus", m + "/cmd/thin_entrypoint"}
	if got := wrapperPkgs(t, b); !reflect.DeepEqual(got, wantPkgs) {
		t.Errorf("packages %q, want %q", got, wantPkgs)
	}
	if want := "-s -w -X gopkg.in/k8snetworkplumbingwg/multus-cni.v4/pkg/multus.version=v4.2.4"; multusLDFlags != want {
		t.Errorf("ldflags %q, want %q", multusLDFlags, want)
	}
	// CGO off: the wrapper builds through goBuild, whose environment is
	// goEnv() with nothing added.
	env := goEnv()
	if i := slices.IndexFunc(env, func(s string) bool { return strings.HasPrefix(s, "CGO_ENABLED=") }); i < 0 || env[i] != "CGO_ENABLED=0" {
		t.Errorf("goEnv() = %q: the go build is not CGO_ENABLED=0", env)
	}
	// Its own build list: the generated go.mod requires multus alone (no
	// Kubernetes alignment), so MVS picks multus's own pins.
	parts, err := b.multusRecipe().inputs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(parts, "go.mod")
	if i < 0 || i+1 >= len(parts) {
		t.Fatalf("no go.mod in the key inputs %q", parts)
	}
	f, err := modfile.Parse("go.mod", []byte(parts[i+1]), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Require) != 1 || f.Require[0].Mod.Path != m || f.Require[0].Mod.Version != images.MultusVersion || len(f.Replace) != 0 {
		t.Errorf("the wrapper go.mod is not just multus %s:\n%s", images.MultusVersion, parts[i+1])
	}

	// The image key follows the Go step's.
	steps, err := b.multusSteps(context.Background(), images.Multus())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.name)
	}
	if want := []string{"rootfs", "netbase", "go-multus", "image-multus"}; !reflect.DeepEqual(names, want) {
		t.Errorf("steps %q, want %q", names, want)
	}
	other := testBuilder(t, "go1.26.9", map[string]string{m + "@" + images.MultusVersion: "h1:multus"})
	steps2, err := other.multusSteps(context.Background(), images.Multus())
	if err != nil {
		t.Fatal(err)
	}
	if steps[2].key == steps2[2].key || steps[3].key == steps2[3].key {
		t.Error("the Go step's or the image's key did not change with the go version")
	}
}

// TestMultusMatchesUpstreamSource checks the recipe against the module's
// own build script and hard-coded paths, when it is in the module cache
// (tests never download).
func TestMultusMatchesUpstreamSource(t *testing.T) {
	dir := moduleSource(t, images.MultusModule, images.MultusVersion)
	if dir == "" {
		t.Skipf("%s@%s is not in the module cache", images.MultusModule, images.MultusVersion)
	}
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	x := "-X " + images.MultusModule + "/pkg/multus.version="
	if !strings.Contains(read("hack/build-go.sh"), x) {
		t.Errorf("hack/build-go.sh no longer sets %s…: update multusLDFlags", x)
	}
	if !strings.Contains(read("pkg/multus/multus.go"), "version        = ") {
		t.Error("pkg/multus has no version variable: update multusLDFlags")
	}
	install := read("cmd/install_multus/main.go")
	for _, p := range []string{`"/usr/src/multus-cni/bin/%s"`, `"/usr/src/multus-cni/bin/passthru"`} {
		if !strings.Contains(install, p) {
			t.Errorf("cmd/install_multus no longer copies from %s: update multusBins", p)
		}
	}
	if !strings.Contains(read("cmd/thin_entrypoint/main.go"), `"/usr/src/multus-cni/bin/multus"`) {
		t.Error("thin_entrypoint's default --multus-bin-file moved: update multusBins")
	}
	if !strings.Contains(read("images/Dockerfile"), `ENTRYPOINT ["/thin_entrypoint"]`) {
		t.Error("upstream's entrypoint changed: update multusConfig")
	}
	f, err := modfile.Parse("go.mod", []byte(read("go.mod")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Replace) != 0 {
		t.Errorf("multus's go.mod has replaces, which a wrapper module ignores: build in a copy of the module instead")
	}
}
