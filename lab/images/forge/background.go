package forge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nodelab/nodelab/lab/images"
)

// Background is a build of addon images that runs beside other work (the
// node image's build, lab creation, specs) at the lowest CPU priority. The
// steps it runs hold their locks (runStep), so a spec that needs one of its
// images waits for that image and then finds it up to date, instead of
// building it a second time.
type Background struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// CanBuild reports whether the forge has a recipe for an addon image.
func CanBuild(img images.Image) bool {
	_, ok := addonRecipeFor(img.Name)
	return ok
}

// StartBackground builds imgs one after another, in the order given, at
// nice 19, and returns at once. Images with no forge recipe are left out
// (whoever needs them says why). Progress lines carry the prefix
// "[background] ". Stop must be called.
func (f *Forge) StartBackground(imgs []images.Image) *Background {
	var todo []images.Image
	for _, img := range imgs {
		if CanBuild(img) {
			todo = append(todo, img)
		}
	}
	ctx, cancel := context.WithCancel(WithLowPriority(context.Background()))
	b := &Background{cancel: cancel, done: make(chan struct{})}
	bg := &Forge{opts: f.opts, log: f.log}
	bg.opts.Progress = f.opts.Progress.WithPrefix("[background] ")
	go func() {
		defer close(b.done)
		if len(todo) == 0 {
			return
		}
		start := time.Now()
		var names []string
		for _, img := range todo {
			names = append(names, img.Name)
		}
		bg.opts.Progress.Printf("building %s at low CPU priority while the lab and specs run", strings.Join(names, ", "))
		var errs []error
		for _, img := range todo {
			if ctx.Err() != nil {
				errs = append(errs, ctx.Err())
				break
			}
			if err := bg.BuildImages(ctx, img); err != nil {
				// The spec that needs the image builds it again and
				// reports the error where it matters.
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			bg.opts.Progress.Printf("stopped after %s: %v", time.Since(start).Round(time.Second), err)
			return
		}
		bg.opts.Progress.Printf("%d images built or up to date in %s", len(todo), time.Since(start).Round(time.Second))
	}()
	return b
}

// Stop cancels what is still building (finished steps stay cached) and
// waits for the tools to exit, up to ctx.
func (b *Background) Stop(ctx context.Context) error {
	b.cancel()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop the background image build: %w", ctx.Err())
	}
}

// BackgroundSet starts one background build at most; the e2e suite calls
// Start from wherever it first knows the lab uses forge images.
type BackgroundSet struct {
	mu sync.Mutex
	bg *Background
}

// Start starts a background build of imgs unless one was started already.
func (s *BackgroundSet) Start(f *Forge, imgs []images.Image) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bg == nil {
		s.bg = f.StartBackground(imgs)
	}
}

// Stop stops the build if one was started.
func (s *BackgroundSet) Stop(ctx context.Context) error {
	s.mu.Lock()
	bg := s.bg
	s.mu.Unlock()
	if bg == nil {
		return nil
	}
	return bg.Stop(ctx)
}
