package forge

import (
	"context"
	"errors"
	"fmt"

	"github.com/nodelab/nodelab/lab/images"
)

// addonRecipe builds an addon or workload image that is not preloaded in
// the node image: it returns the steps that make the image, in order;
// BuildImages runs them under per-step locks and skips those already up to
// date (same key in their stamp).
type addonRecipe func(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error)

// addonRecipeFor is the list of recipes, by images.Image.Name. A new recipe
// lives in its own file (addon_<name>.go) and gets one case here.
//
// Pieces to reuse (see addon_redis.go and addon_chaosmesh.go):
//   - f.rootfsStep(), f.netbaseStep(): the node rootfs and the skeleton,
//     busybox and netbase layers (f.layerPath(layerSkeleton), layerBusybox).
//   - f.extrasStep() + buildPackagesLayer(ctx, log, f.extrasDir(), out,
//     roots): Debian packages; add new packages to extrasPackages so the
//     shared tree has them, then cut the dpkg closure of your roots.
//   - A Go build step is a stepSpec whose key is inputsKey(module sums,
//     go version, flags) and whose run writes into CacheDir/bin (see
//     chaosMeshGoStep; goBuilder.module fetches a module from the proxy,
//     wrapperModule/wrapperRecipe build main packages of other modules with
//     CGO_ENABLED=0 for static binaries).
//   - f.chaosImageStep(img, goKey, bins, roots, cfg) is generic despite
//     its name: skeleton + busybox (+ package closure of roots) + one layer
//     with bins ({CacheDir/bin name, path in image}), config cfg, written
//     with newImage/writeArchive and loaded with dockerLoadFile. Its key
//     covers goKey, so pass the Go step's key.
func addonRecipeFor(name string) (addonRecipe, bool) {
	switch name {
	case images.ChaosMeshDaemonImageName:
		return chaosDaemonRecipe, true
	case images.ChaosMeshControllerImageName:
		return chaosControllerRecipe, true
	case images.EchoImageName:
		return echoImageRecipe, true
	case images.MultusImageName:
		return multusImageRecipe, true
	case images.RedisImageName:
		return redisRecipe, true
	case images.NginxImageName:
		return nginxRecipe, true
	case images.TraefikImageName:
		return traefikImageRecipe, true
	case images.NodeProblemDetectorImageName:
		return npdImageRecipe, true
	case images.NetworkPoliciesImageName:
		return netpolImageRecipe, true
	}
	return nil, false
}

// BuildImages builds addon images (lab/addon) into the local engine,
// skipping those up to date. It implements addon.ImageBuilder. Steps hold
// their locks while they run (runStep), so test processes or a background
// build that need a step at the same time (the extras root filesystem, the
// Chaos Mesh binaries) wait for each other, and the one that waited finds
// the step up to date.
func (f *Forge) BuildImages(ctx context.Context, imgs ...images.Image) error {
	var errs []error
	for _, img := range imgs {
		recipe, ok := addonRecipeFor(img.Name)
		if !ok {
			errs = append(errs, fmt.Errorf("no forge recipe for image %s (%s)", img.Name, img.Forge))
			continue
		}
		steps, err := recipe(ctx, f, img)
		if err != nil {
			// An air-gapped machine that loaded its images (nodelab images
			// load) may not reach the module proxy that the recipe's key
			// needs: use the forge image it has, and say so.
			if key, lerr := imageLabel(ctx, img.Forge); lerr == nil && key != "" {
				f.opts.Progress.Start("Building image " + img.Forge).Skip(fmt.Sprintf("inputs not checked (%v); using the image in the engine (inputs %s)", err, key))
				continue
			}
			errs = append(errs, fmt.Errorf("image %s: %w", img.Forge, err))
			continue
		}
		// The last step makes the image, labelled with its key: an image in
		// the engine with that label (built here before, or loaded from an
		// images archive) is what the steps would make, so none runs.
		if last := steps[len(steps)-1]; f.imageHasKey(ctx, img.Forge, last.key) {
			f.opts.Progress.Start(last.title).Skip("up to date (the image in the engine carries the current inputs key)")
			continue
		}
		if _, err := f.runSteps(ctx, steps...); err != nil {
			errs = append(errs, fmt.Errorf("image %s: %w", img.Forge, err))
		}
	}
	return errors.Join(errs...)
}
