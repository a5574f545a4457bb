package forge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nodelab/nodelab/lab/images"
)

// fakeCheckout writes a minimal nodelab module with an echo main package.
func fakeCheckout(t *testing.T, module string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+module+"\n\ngo 1.26\n")
	write("cmd/nodelab-echo/main.go", "package main\n\nfunc main() {}\n")
	return dir
}

func TestNodelabCheckoutFromASubfolder(t *testing.T) {
	// Tests run in lab/images/forge of the checkout; go env GOMOD looks up.
	dir, err := nodelabCheckout(context.Background(), "go")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cmd/nodelab-echo/main.go")); err != nil {
		t.Errorf("checkout %s has no echo source: %v", dir, err)
	}
	if wd, _ := os.Getwd(); filepath.Join(dir, "lab/images/forge") != wd {
		t.Errorf("checkout %s is not two folders above the test's %s", dir, wd)
	}
}

func TestNodelabCheckoutOutsideOne(t *testing.T) {
	for name, dir := range map[string]string{
		"no module":    t.TempDir(),
		"other module": fakeCheckout(t, "example.com/other"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Chdir(dir)
			_, err := nodelabCheckout(context.Background(), "go")
			if !errors.Is(err, errNoCheckout) {
				t.Errorf("nodelabCheckout in %s = %v, want %q", dir, err, errNoCheckout)
			}
		})
	}
	dir := fakeCheckout(t, nodelabModule)
	if err := os.RemoveAll(filepath.Join(dir, "cmd")); err != nil {
		t.Fatal(err)
	}
	if _, err := checkoutOf(filepath.Join(dir, "go.mod"), nodelabModule); !errors.Is(err, errNoCheckout) {
		t.Errorf("a checkout without cmd/nodelab-echo: %v, want %q", err, errNoCheckout)
	}
}

func TestEchoKeyFollowsItsSource(t *testing.T) {
	if _, ok := addonRecipeFor(images.EchoImageName); !ok {
		t.Fatalf("no forge recipe registered for %s", images.EchoImageName)
	}
	dir := fakeCheckout(t, nodelabModule)
	t.Chdir(filepath.Join(dir, "cmd"))
	keys := func() []string {
		t.Helper()
		steps, err := testBuilder(t, "go1.26.8", nil).echoSteps(context.Background(), images.Echo())
		if err != nil {
			t.Fatal(err)
		}
		var names, keys []string
		for _, s := range steps {
			names, keys = append(names, s.name), append(keys, s.key)
		}
		if want := []string{"rootfs", "netbase", "go-echo", "image-echo"}; !reflect.DeepEqual(names, want) {
			t.Errorf("steps %q, want %q", names, want)
		}
		return keys
	}
	before := keys()
	if again := keys(); !reflect.DeepEqual(before, again) {
		t.Error("the keys changed with nothing edited")
	}
	if err := os.WriteFile(filepath.Join(dir, "cmd/nodelab-echo/main.go"), []byte("package main\n\nfunc main() { println() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	after := keys()
	if before[2] == after[2] || before[3] == after[3] {
		t.Error("editing cmd/nodelab-echo did not change the Go step's or the image's key")
	}
}

func TestEchoImage(t *testing.T) {
	im := images.Echo()
	if im.Forge != "nodelab.local/echo:v1" || im.Upstream != im.Forge || !im.LocalOnly() {
		t.Errorf("echo image %+v: want nodelab.local/echo:v1 as both references, LocalOnly", im)
	}
	if images.Traefik().LocalOnly() {
		t.Error("traefik has an upstream image, it is not LocalOnly")
	}
	if want := []binFile{{binEcho, "/nodelab-echo"}}; !reflect.DeepEqual(echoBins, want) {
		t.Errorf("image files %v, want %v", echoBins, want)
	}
	if got := echoConfig.Entrypoint; !reflect.DeepEqual(got, []string{"/nodelab-echo"}) {
		t.Errorf("entrypoint %q, want [/nodelab-echo]", got)
	}
	b := testBuilder(t, "go1.26.8", nil)
	for _, other := range b.recipes() {
		for _, o := range other.outputs {
			if o.name == binEcho {
				t.Errorf("%s is also an output of %s", binEcho, other.name)
			}
		}
	}
}
