package forge

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/nodelab/nodelab/lab/images"
)

// addonRecipes build addon and workload images that are not preloaded in
// the node image, keyed by images.Image.Name. Each returns the steps that
// make the image; runSteps skips those already up to date.
var addonRecipes = map[string]func(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error){}

// BuildImages builds addon images (lab/addon) into the local engine,
// skipping those up to date. It implements addon.ImageBuilder.
func (f *Forge) BuildImages(ctx context.Context, imgs ...images.Image) error {
	var errs []error
	for _, img := range imgs {
		recipe, ok := addonRecipes[img.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("no forge recipe for image %s (%s)", img.Name, img.Forge))
			continue
		}
		steps, err := recipe(ctx, f, img)
		if err != nil {
			errs = append(errs, fmt.Errorf("image %s: %w", img.Forge, err))
			continue
		}
		if err := f.runLocked(ctx, "addon-"+img.Name, steps); err != nil {
			errs = append(errs, fmt.Errorf("image %s: %w", img.Forge, err))
		}
	}
	return errors.Join(errs...)
}

// runLocked runs steps one by one, each holding a lock named after the
// step in the cache, so test processes that build images sharing a step
// (the extras root filesystem, the Chaos Mesh binaries) at the same time
// wait for each other; the waiting one then finds the step up to date.
func (f *Forge) runLocked(ctx context.Context, _ string, steps []stepSpec) error {
	dir, err := f.workDir("locks")
	if err != nil {
		return err
	}
	for _, s := range steps {
		unlock, err := lockFile(ctx, filepath.Join(dir, s.name+".lock"))
		if err != nil {
			return err
		}
		_, err = f.runStep(ctx, s)
		unlock()
		if err != nil {
			return err
		}
	}
	return nil
}
