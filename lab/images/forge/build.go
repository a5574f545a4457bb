package forge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nodelab/nodelab/lab/images"
)

// componentWorkers is how many component images are assembled at once;
// each is mostly gzip on one core.
const componentWorkers = 2

// Build forges everything a lab node needs and returns the node image
// (images.ForgeNodeImage). The Go builds (CPU-bound) and the Debian root
// filesystem, netbase and base image (network-bound debootstrap first) run
// side by side; the component images and the node image follow. Every step
// is skipped when its stamp and outputs match the current inputs, and an
// interrupted build resumes at the step it stopped in.
func (f *Forge) Build(ctx context.Context) (Result, error) {
	start := time.Now()
	// The node image and the workload images in the engine carry the
	// current inputs keys (built here, or loaded from an images archive on
	// a machine whose forge cache is empty): no step would change them.
	if node, err := (NodeImageSource{Forge: f}).Lookup(ctx); err == nil {
		f.opts.Progress.Start("Building node image " + node).Skip("up to date (it and the workload images in the engine carry the current inputs keys)")
		return f.finish(Result{NodeImage: node, UpToDate: true}, start, nil)
	}
	var (
		wg                sync.WaitGroup
		bins              Binaries
		binSteps, osSteps []StepResult
		binErr, osErr     error
	)
	wg.Go(func() { bins, binSteps, binErr = f.BuildBinaries(ctx) })
	wg.Go(func() { osSteps, osErr = f.runSteps(ctx, f.rootfsStep(), f.netbaseStep(), f.baseStep()) })
	wg.Wait()
	res := Result{NodeImage: images.ForgeNodeImage, Steps: append(binSteps, osSteps...)}
	// Neither side stops the other: a failed debootstrap should not throw
	// away half an hour of compiling, and the reverse.
	if err := errors.Join(binErr, osErr); err != nil {
		return f.finish(res, start, fmt.Errorf("forge: %w", err))
	}

	steps, err := f.componentSteps(ctx, bins)
	res.Steps = append(res.Steps, steps...)
	if err != nil {
		return f.finish(res, start, fmt.Errorf("forge: %w", err))
	}
	node, err := f.nodeStep(bins)
	if err != nil {
		return f.finish(res, start, fmt.Errorf("forge: %w", err))
	}
	r, err := f.runStep(ctx, node)
	res.Steps = append(res.Steps, r)
	if err != nil {
		return f.finish(res, start, fmt.Errorf("forge: %w", err))
	}
	return f.finish(res, start, nil)
}

// runSteps runs steps in order, stopping at the first failure.
func (f *Forge) runSteps(ctx context.Context, steps ...stepSpec) ([]StepResult, error) {
	var out []StepResult
	for _, s := range steps {
		r, err := f.runStep(ctx, s)
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// componentSteps builds every preloaded component image, componentWorkers
// at a time; a failure does not stop the others.
func (f *Forge) componentSteps(ctx context.Context, bins Binaries) ([]StepResult, error) {
	comps := append(images.NodeComponents(), images.Workloads()...)
	specs := make([]stepSpec, len(comps))
	for i, img := range comps {
		s, err := f.componentStep(img, bins)
		if err != nil {
			return nil, err
		}
		specs[i] = s
	}
	results := make([]StepResult, len(specs))
	errs := make([]error, len(specs))
	sem := make(chan struct{}, componentWorkers)
	var wg sync.WaitGroup
	for i := range specs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = f.runStep(ctx, specs[i])
		})
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// finish fills in the total and prints the summary line.
func (f *Forge) finish(res Result, start time.Time, err error) (Result, error) {
	res.Total = time.Since(start)
	cached := 0
	for _, s := range res.Steps {
		if s.Cached {
			cached++
		}
	}
	if err != nil {
		f.opts.Progress.Printf("Forge failed after %s (%d steps, %d up to date)", res.Total.Round(time.Second), len(res.Steps), cached)
		return res, err
	}
	size := ""
	ctx, cancel := cleanupContext()
	defer cancel()
	if n, err := imageSize(ctx, res.NodeImage); err == nil {
		size = ", " + humanSize(n)
	}
	f.opts.Progress.Printf("Forged %s%s in %s (%d steps, %d up to date)",
		res.NodeImage, size, res.Total.Round(tenth), len(res.Steps), cached)
	return res, nil
}
