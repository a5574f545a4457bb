package forge

import "context"

// NodeImageSource lets the lab lifecycle (lab.UpOptions.Forge) find or build
// the forge node image without depending on this package's build details.
type NodeImageSource struct{ Forge *Forge }

// Lookup returns the forge node image if it is built from the current inputs.
func (s NodeImageSource) Lookup(ctx context.Context) (string, error) { return Lookup(ctx) }

// Build builds what is missing and returns the node image.
func (s NodeImageSource) Build(ctx context.Context) (string, error) {
	res, err := s.Forge.Build(ctx)
	if err != nil {
		return "", err
	}
	return res.NodeImage, nil
}
