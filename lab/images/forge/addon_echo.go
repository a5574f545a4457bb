package forge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/mod/modfile"

	"github.com/nodelab/nodelab/lab/images"
)

// binEcho is nodelab's echo backend in CacheDir/bin.
const binEcho = "nodelab-echo"

// echoPkg is the echo backend's main package in the nodelab module.
const echoPkg = "./cmd/nodelab-echo"

// errNoCheckout is why the echo image cannot be built outside a checkout.
var errNoCheckout = errors.New("the echo image is built from the nodelab source tree; run from a checkout")

// echoRecipe builds cmd/nodelab-echo from the nodelab checkout, keyed on
// its source files so an edit rebuilds it. It imports only the standard
// library, so the checkout's go.mod is read, never changed (-mod=readonly).
func (b *goBuilder) echoRecipe() goRecipe {
	var dir string
	return goRecipe{
		name:    "go-echo",
		title:   "Building nodelab-echo from the nodelab checkout",
		outputs: same(binEcho),
		inputs: func(ctx context.Context) ([]string, error) {
			d, err := nodelabCheckout(ctx, b.gobin)
			if err != nil {
				return nil, err
			}
			dir = d
			sum, err := treeHash(filepath.Join(dir, echoPkg))
			if err != nil {
				return nil, fmt.Errorf("hash %s: %w", echoPkg, err)
			}
			return []string{echoPkg + "=" + sum, "-s -w"}, nil
		},
		prepare: func(context.Context, io.Writer) error { return nil },
		build: func(ctx context.Context, log io.Writer, tmp string) error {
			args := []string{"build", "-trimpath", "-gcflags", goGCFlags, "-ldflags", "-s -w", "-o", tmp + "/", echoPkg}
			return b.goCmd(ctx, log, dir, []string{"GOFLAGS=-mod=readonly -buildvcs=false"}, args...)
		},
	}
}

// nodelabCheckout finds the nodelab source tree: the module of the current
// directory (`go env GOMOD`, which looks upwards), when it is the module
// this binary was built from (debug.ReadBuildInfo). Unlike `go list -m`, it
// works from any folder of the checkout and says clearly when there is none.
func nodelabCheckout(ctx context.Context, gobin string) (string, error) {
	want := nodelabModule
	if info, ok := debug.ReadBuildInfo(); ok && strings.Contains(info.Main.Path, ".") {
		want = info.Main.Path
	}
	cmd := exec.CommandContext(ctx, gobin, "env", "GOMOD")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w (go env GOMOD: %w)", errNoCheckout, err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		wd, _ := os.Getwd()
		return "", fmt.Errorf("%w (%s is not inside a Go module)", errNoCheckout, wd)
	}
	return checkoutOf(gomod, want)
}

// checkoutOf returns the folder of gomod when it declares module want and
// holds the echo source.
func checkoutOf(gomod, want string) (string, error) {
	text, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errNoCheckout, err)
	}
	if got := modfile.ModulePath(text); got != want {
		return "", fmt.Errorf("%w (%s is module %q, not %s)", errNoCheckout, gomod, got, want)
	}
	dir := filepath.Dir(gomod)
	if _, err := os.Stat(filepath.Join(dir, echoPkg)); err != nil {
		return "", fmt.Errorf("%w (%s has no %s)", errNoCheckout, dir, echoPkg)
	}
	return dir, nil
}

// echoBins puts the static binary at the root.
var echoBins = []binFile{{binEcho, "/nodelab-echo"}}

// echoConfig runs the backend on :8080 (its -listen default); it needs no
// privilege, so pods may run it as any user.
var echoConfig = v1.Config{
	Entrypoint:   []string{"/nodelab-echo"},
	WorkingDir:   "/",
	ExposedPorts: map[string]struct{}{"8080/tcp": {}},
}

// echoImageRecipe: the static binary on the skeleton and busybox, as the
// multus image.
func echoImageRecipe(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	b, err := f.newGoBuilder(ctx)
	if err != nil {
		return nil, err
	}
	return b.echoSteps(ctx, img)
}

func (b *goBuilder) echoSteps(ctx context.Context, img images.Image) ([]stepSpec, error) {
	turn := 0
	gostep, err := b.stepFor(ctx, b.echoRecipe(), &turn)
	if err != nil {
		return nil, err
	}
	f := b.f
	return []stepSpec{f.rootfsStep(), f.netbaseStep(), gostep,
		f.chaosImageStep(img, gostep.key, echoBins, nil, echoConfig)}, nil
}
