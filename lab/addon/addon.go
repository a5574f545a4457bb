// Package addon installs what a scenario needs on top of a lab (Chaos
// Mesh, redis-cluster, an ingress controller, Multus): it makes sure the
// addon's images are available to the nodes (forge-built and loaded on an
// offline lab, pulled upstream otherwise), then installs the addon and waits
// until it is ready. Installing is idempotent, so specs call Ensure for what
// they need and a lab that already has the addon is left as it is.
package addon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/progress"
)

// Addon is one installable addon. Names match profile.KnownAddons.
type Addon interface {
	// Name is the profile name ("chaos-mesh").
	Name() string
	// Images lists every image the addon's pods run.
	Images() []images.Image
	// Install installs or updates the addon, using the image references for
	// src (images.Image.Ref), and waits until it is ready. It must be
	// idempotent and bounded by its own timeouts.
	Install(ctx context.Context, l *lab.Lab, src images.Source) error
}

// Remover is an addon nodelab can take out again. On a cluster nodelab did
// not create, only such addons are installed, and one nodelab installed
// there is removed when the lab is closed (lab.Lab.Close).
type Remover interface {
	// InstalledByOthers reports whether the addon is in the cluster and was
	// not installed by nodelab (then it is used as it is, never changed).
	InstalledByOthers(ctx context.Context, l *lab.Lab) (bool, error)
	// Removal measures, before Install, what the cluster already has, and
	// returns what deletes afterwards only what Install (for src) added,
	// waiting until it is gone, bounded by its own timeouts. It refuses
	// (an error) when it could not tell its own changes from what was
	// there.
	Removal(ctx context.Context, l *lab.Lab, src images.Source) (func(context.Context) error, error)
}

// NodeWriter is an addon whose install writes files on the nodes (CNI
// configuration and binaries). On a cluster nodelab did not create it is
// installed only when the user asked (Options.InstallAddons).
type NodeWriter interface {
	// NodeFiles says what it writes on every node.
	NodeFiles() string
}

// ErrNotOnAttached is returned by Ensure for an addon nodelab cannot remove
// again, on a cluster it did not create.
var ErrNotOnAttached = errors.New("nodelab installs it only on labs it created")

// ErrNeedsConsent is returned by Ensure for an addon nodelab would have to
// install on the nodes of a cluster it did not create, unasked.
var ErrNeedsConsent = errors.New("needs --install-addons")

// ImageBuilder builds images locally (the offline forge implements it).
type ImageBuilder interface {
	// BuildImages builds the images' Forge references into the local engine,
	// skipping those that are up to date.
	BuildImages(ctx context.Context, imgs ...images.Image) error
}

// Options say where images come from and where progress goes.
type Options struct {
	// Builder builds forge images; required when the lab's images come from the forge.
	Builder ImageBuilder
	// Progress gets one line per image build, load and install (nil: silent).
	Progress *progress.Reporter
	// Known are the addons Ensure installs by name (lab/addon/builtin.All()).
	Known []Addon
	// InstallAddons lets Ensure install addons that write on the nodes
	// (NodeWriter) on a cluster nodelab did not create (-nodelab.install-addons,
	// nodelab run --install-addons); they are removed again at Close.
	InstallAddons bool
}

// Get returns the known addon called name, or an error listing the known ones.
func (o Options) Get(name string) (Addon, error) {
	return Find(o.Known, name)
}

// Find returns the addon called name in known, or an error listing them.
func Find(known []Addon, name string) (Addon, error) {
	var names []string
	for _, a := range known {
		if a.Name() == name {
			return a, nil
		}
		names = append(names, a.Name())
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown addon %q: known addons are %s", name, strings.Join(names, ", "))
}

// Source is where the lab's images come from: the node image's source
// (for an attached kind cluster, measured from its node containers: forge
// when they run nodelab's forge node image), upstream when unknown (an
// attached cluster that is not kind on this host pulls).
func Source(l *lab.Lab) images.Source {
	if l.Image.Source == "" || l.Image.Source == images.SourceAuto {
		return images.SourceUpstream
	}
	return l.Image.Source
}

// Ensure makes the named addons present and ready in the lab, in order.
func Ensure(ctx context.Context, l *lab.Lab, opts Options, names ...string) error {
	for _, name := range names {
		a, err := opts.Get(name)
		if err != nil {
			return err
		}
		src := Source(l)
		if l.Attached {
			// Someone else's cluster: leave it as it was found.
			r, ok := a.(Remover)
			if !ok {
				return fmt.Errorf("addon %s: %w (it cannot remove it again), and %s was attached: install it yourself", name, ErrNotOnAttached, l.Name)
			}
			theirs, err := r.InstalledByOthers(ctx, l)
			if err != nil {
				return fmt.Errorf("addon %s: %w", name, err)
			}
			if theirs {
				_ = opts.Progress.Start(fmt.Sprintf("Using addon %s as installed in %s (not by nodelab; left unchanged)", name, l.Name)).End(nil)
				continue
			}
			if w, ok := a.(NodeWriter); ok && !opts.InstallAddons {
				return fmt.Errorf("addon %s is not in %s, and installing it writes %s on every node of a cluster nodelab did not create: %w (make e2e GINKGO_FLAGS=-nodelab.install-addons, nodelab run --install-addons; removed again afterwards)",
					name, l.Name, w.NodeFiles(), ErrNeedsConsent)
			}
		}
		if err := EnsureImages(ctx, l, opts, a.Images()...); err != nil {
			return fmt.Errorf("addon %s: %w", name, err)
		}
		if l.Attached && !l.UndoRecorded("addon "+name) {
			// Recorded before installing, so a half-made install is removed
			// too (and one an earlier run left behind).
			remove, err := a.(Remover).Removal(ctx, l, src)
			if err != nil {
				return fmt.Errorf("addon %s: %w", name, err)
			}
			l.UndoOnClose("addon "+name, func(ctx context.Context) error {
				step := opts.Progress.Start(fmt.Sprintf("Removing addon %s, which nodelab installed in %s", name, l.Name))
				return step.End(remove(ctx))
			})
		}
		step := opts.Progress.Start(fmt.Sprintf("Installing addon %s (%s images)", name, src))
		if err := step.End(a.Install(ctx, l, src)); err != nil {
			return fmt.Errorf("addon %s: %w", name, err)
		}
	}
	return nil
}

// EnsureImages makes images available to the lab's nodes: on a forge lab it
// builds them (when not up to date) and loads them into every node; other
// labs pull them, except LocalOnly images (no registry has them), which
// every lab builds and loads.
func EnsureImages(ctx context.Context, l *lab.Lab, opts Options, imgs ...images.Image) error {
	if Source(l) != images.SourceForge {
		imgs = slices.DeleteFunc(slices.Clone(imgs), func(im images.Image) bool { return !im.LocalOnly() })
		if len(imgs) > 0 {
			if err := l.DockerAccess(); err != nil {
				return fmt.Errorf("image %s exists only where the nodelab forge builds it, and cluster %s can neither pull it nor be loaded with it (%v): "+
					"push it to a registry the cluster reaches (nodelab images push --to REGISTRY), or use a lab nodelab created (nodelab up)", imgs[0].Forge, l.Name, err)
			}
		}
	}
	if len(imgs) == 0 {
		return nil
	}
	if l.Attached && l.DockerAccess() != nil {
		// Forge images on a cluster nodelab cannot load (its nodes are not
		// containers of this host's engine): the user said its nodes hold
		// them (preloaded, or mirrored under the same names); a pod that
		// cannot get one fails within seconds, naming it.
		_ = opts.Progress.Start(fmt.Sprintf("Not loading %d forge images: cluster %s is reached without Docker, its nodes must already hold them", len(imgs), l.Name)).End(nil)
		return nil
	}
	if opts.Builder == nil {
		return fmt.Errorf("lab %s needs forge images (%s) but no image builder was given", l.Name, imgs[0].Forge)
	}
	var refs []string
	for _, im := range imgs {
		refs = append(refs, im.Forge)
	}
	start := time.Now()
	step := opts.Progress.Start(fmt.Sprintf("Building %d forge images (%s)", len(refs), strings.Join(refs, ", ")))
	if err := step.End(opts.Builder.BuildImages(ctx, imgs...)); err != nil {
		return fmt.Errorf("build images after %s: %w", time.Since(start).Round(time.Second), err)
	}
	step = opts.Progress.Start(fmt.Sprintf("Loading %d images into the nodes", len(refs)))
	return step.End(l.LoadImages(ctx, refs...))
}
