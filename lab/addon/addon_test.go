package addon

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images"
)

type fakeAddon struct {
	name      string
	installed []images.Source
	err       error
}

func (f *fakeAddon) Name() string           { return f.name }
func (f *fakeAddon) Images() []images.Image { return nil }
func (f *fakeAddon) Install(_ context.Context, _ *lab.Lab, src images.Source) error {
	f.installed = append(f.installed, src)
	return f.err
}

func TestGetUnknownListsTheKnownOnes(t *testing.T) {
	opts := Options{Known: []Addon{&fakeAddon{name: "b"}, &fakeAddon{name: "a"}}}
	_, err := opts.Get("istio")
	if err == nil || !strings.Contains(err.Error(), `unknown addon "istio"`) || !strings.Contains(err.Error(), "a, b") {
		t.Fatalf("Get(istio) = %v, want an error naming the addon and listing a, b", err)
	}
	if a, err := opts.Get("a"); err != nil || a.Name() != "a" {
		t.Fatalf("Get(a) = %v, %v", a, err)
	}
}

func TestSource(t *testing.T) {
	cases := []struct {
		l    *lab.Lab
		want images.Source
	}{
		{&lab.Lab{Attached: true}, images.SourceUpstream},
		{&lab.Lab{Image: lab.NodeImageChoice{Source: images.SourceForge}}, images.SourceForge},
		{&lab.Lab{Image: lab.NodeImageChoice{Source: images.SourceUpstream}}, images.SourceUpstream},
		{&lab.Lab{}, images.SourceUpstream},
	}
	for _, c := range cases {
		if got := Source(c.l); got != c.want {
			t.Errorf("Source(%+v) = %s, want %s", c.l.Image, got, c.want)
		}
	}
}

// An upstream lab pulls: Ensure installs in order with upstream references
// and stops at the first failure, naming the addon.
func TestEnsureInstallsInOrderAndStops(t *testing.T) {
	a, b, c := &fakeAddon{name: "a"}, &fakeAddon{name: "b", err: errors.New("boom")}, &fakeAddon{name: "c"}
	l := &lab.Lab{Name: "t", Image: lab.NodeImageChoice{Source: images.SourceUpstream}}
	err := Ensure(context.Background(), l, Options{Known: []Addon{a, b, c}}, "a", "b", "c")
	if err == nil || !strings.Contains(err.Error(), "addon b: boom") {
		t.Fatalf("Ensure = %v, want addon b: boom", err)
	}
	if len(a.installed) != 1 || a.installed[0] != images.SourceUpstream || len(b.installed) != 1 || len(c.installed) != 0 {
		t.Fatalf("installs: a=%v b=%v c=%v, want a and b once with upstream, c never", a.installed, b.installed, c.installed)
	}
}

func TestEnsureImagesNeedsBuilderOnForgeLab(t *testing.T) {
	l := &lab.Lab{Name: "t", Image: lab.NodeImageChoice{Source: images.SourceForge}}
	err := EnsureImages(context.Background(), l, Options{}, images.Redis())
	if err == nil || !strings.Contains(err.Error(), "no image builder") {
		t.Fatalf("EnsureImages without builder = %v, want a no-image-builder error", err)
	}
}

// removableAddon is a fakeAddon that can be removed again.
type removableAddon struct {
	fakeAddon
	theirs  bool
	removed int
}

func (r *removableAddon) InstalledByOthers(context.Context, *lab.Lab) (bool, error) {
	return r.theirs, nil
}

func (r *removableAddon) Removal(context.Context, *lab.Lab, images.Source) (func(context.Context) error, error) {
	return func(context.Context) error {
		r.removed++
		return nil
	}, nil
}

// nodeWritingAddon writes on the nodes (like Multus).
type nodeWritingAddon struct{ removableAddon }

func (nodeWritingAddon) NodeFiles() string { return "/etc/cni/net.d/x.conf" }

// An addon that writes on the nodes of a cluster nodelab did not create is
// installed only with InstallAddons, and removed at Close.
func TestEnsureNodeWriterNeedsConsent(t *testing.T) {
	ctx := context.Background()
	w := &nodeWritingAddon{removableAddon{fakeAddon: fakeAddon{name: "cni"}}}
	l := &lab.Lab{Name: "t", Attached: true}
	err := Ensure(ctx, l, Options{Known: []Addon{w}}, "cni")
	if !errors.Is(err, ErrNeedsConsent) || !strings.Contains(err.Error(), "/etc/cni/net.d/x.conf") || len(w.installed) != 0 {
		t.Fatalf("Ensure without consent = %v (installs %v), want ErrNeedsConsent naming the files, nothing installed", err, w.installed)
	}
	if err := Ensure(ctx, l, Options{Known: []Addon{w}, InstallAddons: true}, "cni"); err != nil || len(w.installed) != 1 {
		t.Fatalf("Ensure with consent = %v (installs %v)", err, w.installed)
	}
	if err := l.Close(ctx); err != nil || w.removed != 1 {
		t.Fatalf("Close = %v, removed %d; want nil, 1", err, w.removed)
	}
}

// On a cluster nodelab did not create: an addon it installs is removed at
// Close (once, however often it was ensured); one the cluster already had
// is used as it is; one nodelab cannot remove is not installed at all.
func TestEnsureOnAttachedClusterLeavesItAsFound(t *testing.T) {
	ctx := context.Background()
	ours := &removableAddon{fakeAddon: fakeAddon{name: "ours"}}
	theirs := &removableAddon{fakeAddon: fakeAddon{name: "theirs"}, theirs: true}
	plain := &fakeAddon{name: "plain"}
	opts := Options{Known: []Addon{ours, theirs, plain}}
	l := &lab.Lab{Name: "t", Attached: true}

	if err := Ensure(ctx, l, opts, "ours", "theirs", "ours"); err != nil {
		t.Fatalf("Ensure = %v", err)
	}
	if len(ours.installed) != 2 || len(theirs.installed) != 0 {
		t.Fatalf("installs: ours=%v theirs=%v, want ours twice (idempotent), theirs never", ours.installed, theirs.installed)
	}
	if err := Ensure(ctx, l, opts, "plain"); err == nil || !strings.Contains(err.Error(), "install it yourself") || len(plain.installed) != 0 {
		t.Fatalf("Ensure(plain) on an attached cluster = %v (installs %v), want a refusal before installing", err, plain.installed)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if ours.removed != 1 || theirs.removed != 0 {
		t.Fatalf("removed: ours %d, theirs %d; want 1 and 0", ours.removed, theirs.removed)
	}
	// On a lab nodelab created nothing is recorded for Close.
	own := &removableAddon{fakeAddon: fakeAddon{name: "ours"}}
	nl := &lab.Lab{Name: "n", Image: lab.NodeImageChoice{Source: images.SourceUpstream}}
	if err := Ensure(ctx, nl, Options{Known: []Addon{own}}, "ours"); err != nil {
		t.Fatal(err)
	}
	if err := nl.Close(ctx); err != nil || own.removed != 0 {
		t.Fatalf("Close of a created lab = %v, removed %d; want nil, 0", err, own.removed)
	}
}
