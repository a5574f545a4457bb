package lab

import (
	"context"
	"errors"
	"fmt"

	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/images"
)

// NodeImageForge finds or builds the offline forge's node image. The CLI and
// the e2e suite wire lab/images/forge in; tests can fake it.
type NodeImageForge interface {
	// Lookup returns the node image if it is built from the current inputs,
	// or an error saying why not.
	Lookup(ctx context.Context) (string, error)
	// Build builds whatever is missing and returns the node image.
	Build(ctx context.Context) (string, error)
}

// NodeImageChoice is the node image a lab uses and why.
type NodeImageChoice struct {
	Image  string
	Source images.Source
	Reason string
}

// ChooseNodeImage applies the profile's image source:
//   - upstream: kind's default node image (pulled if missing);
//   - forge: the forge node image, built if missing;
//   - auto: the forge image when it is built, else the upstream image when it
//     is present or can be pulled, else build the forge image.
//
// override (a profile's nodeImage) wins over all of these.
func ChooseNodeImage(ctx context.Context, src images.Source, override string, f NodeImageForge) (NodeImageChoice, error) {
	if override != "" {
		return NodeImageChoice{Image: override, Source: src, Reason: "nodeImage set in the profile"}, nil
	}
	switch src {
	case images.SourceUpstream:
		if err := ensureUpstream(ctx, images.UpstreamNodeImage); err != nil {
			return NodeImageChoice{}, fmt.Errorf("imageSource upstream: %w; no registry reachable? use imageSource forge (or auto) to build images locally", err)
		}
		return NodeImageChoice{Image: images.UpstreamNodeImage, Source: src, Reason: "imageSource upstream"}, nil
	case images.SourceForge:
		return buildForge(ctx, f, "imageSource forge")
	case images.SourceAuto, "":
		if f != nil {
			if img, err := f.Lookup(ctx); err == nil {
				return NodeImageChoice{Image: img, Source: images.SourceForge, Reason: "auto: forge node image is built and up to date"}, nil
			}
		}
		err := ensureUpstream(ctx, images.UpstreamNodeImage)
		if err == nil {
			return NodeImageChoice{Image: images.UpstreamNodeImage, Source: images.SourceUpstream, Reason: "auto: upstream node image available"}, nil
		}
		return buildForge(ctx, f, fmt.Sprintf("auto: upstream node image cannot be pulled (%v)", shortErr(err)))
	default:
		return NodeImageChoice{}, fmt.Errorf("unknown image source %q: use one of %v", src, images.Sources)
	}
}

func buildForge(ctx context.Context, f NodeImageForge, reason string) (NodeImageChoice, error) {
	if f == nil {
		return NodeImageChoice{}, errors.New(reason + ", and no forge is configured")
	}
	img, err := f.Build(ctx)
	if err != nil {
		return NodeImageChoice{}, fmt.Errorf("%s; building forge images: %w", reason, err)
	}
	return NodeImageChoice{Image: img, Source: images.SourceForge, Reason: reason + ": built forge images"}, nil
}

func ensureUpstream(ctx context.Context, ref string) error {
	if imagePresent(ctx, ref) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	_, err := dockercli.Run(ctx, "pull", ref)
	return err
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
