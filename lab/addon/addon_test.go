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
		l    lab.Lab
		want images.Source
	}{
		{lab.Lab{Attached: true}, images.SourceUpstream},
		{lab.Lab{Image: lab.NodeImageChoice{Source: images.SourceForge}}, images.SourceForge},
		{lab.Lab{Image: lab.NodeImageChoice{Source: images.SourceUpstream}}, images.SourceUpstream},
		{lab.Lab{}, images.SourceUpstream},
	}
	for _, c := range cases {
		if got := Source(&c.l); got != c.want {
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
