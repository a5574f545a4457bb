package forge

import (
	"context"
	"fmt"

	"github.com/nodelab/nodelab/lab/images"
)

// NodeImageSource lets the lab lifecycle (lab.UpOptions.Forge) find or build
// the forge node image without depending on this package's build details.
type NodeImageSource struct {
	Forge *Forge
	// BeforeBuild, when set, is called once the lab has chosen to build
	// the forge node image, before it starts (the e2e suite starts the
	// addon images it will need then, in the background).
	BeforeBuild func()
}

// Lookup returns the forge node image if it and every workload image are
// built from the current inputs.
func (s NodeImageSource) Lookup(ctx context.Context) (string, error) {
	node, err := Lookup(ctx)
	if err != nil {
		return "", err
	}
	for _, img := range images.Workloads() {
		key, err := componentKey(img)
		if err != nil {
			return "", err
		}
		if !s.Forge.imageHasKey(ctx, img.Forge, key) {
			return "", fmt.Errorf("workload image %s: %w", img.Forge, ErrNotBuilt)
		}
	}
	return node, nil
}

// Build builds what is missing and returns the node image.
func (s NodeImageSource) Build(ctx context.Context) (string, error) {
	if s.BeforeBuild != nil {
		s.BeforeBuild()
	}
	res, err := s.Forge.Build(ctx)
	if err != nil {
		return "", err
	}
	return res.NodeImage, nil
}
