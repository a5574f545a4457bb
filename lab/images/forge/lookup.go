package forge

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nodelab/nodelab/lab/images"
)

// pins are the pinned versions the input keys are made of. It is a
// variable only so tests can show that a version bump changes the keys.
var pins = struct {
	Kubernetes, Staging, Etcd, CoreDNS, Pause, Flannel, FlannelCNIPlugin string
	LocalPathProvisioner, CRIAPI, GRPC, Kind, DebianSuite, PauseImage    string
}{
	Kubernetes: images.KubernetesVersion, Staging: images.StagingVersion, Etcd: images.EtcdVersion,
	CoreDNS: images.CoreDNSVersion, Pause: images.PauseVersion, Flannel: images.FlannelVersion,
	FlannelCNIPlugin: images.FlannelCNIPluginVersion, LocalPathProvisioner: images.LocalPathProvisionerVersion,
	CRIAPI: images.CRIAPIVersion, GRPC: images.GRPCVersion, Kind: images.KindVersion,
	DebianSuite: images.DebianSuite, PauseImage: images.PauseImage,
}

// binariesKey names the binaries the images are made of by their pinned
// versions, not their bytes: Lookup must work without the build cache, and
// Kubernetes binaries carry a build date. A change to how they are built
// that the versions do not show bumps recipeRevision.
func binariesKey() string {
	return inputsKey("binaries", pins.Kubernetes, pins.Staging, pins.Etcd, pins.CoreDNS, pins.Pause,
		pins.Flannel, pins.FlannelCNIPlugin, pins.LocalPathProvisioner, pins.CRIAPI, pins.GRPC)
}

// nodeKey is the label the node image built from the current recipe has.
func nodeKey() (string, error) {
	parts := []string{"node", pins.Kubernetes, baseKey(), binariesKey(), nodeRecipe,
		hashText(defaultCNIManifest), hashText(defaultStorageManifest)}
	for _, img := range images.NodeComponents() {
		k, err := componentKey(img)
		if err != nil {
			return "", err
		}
		parts = append(parts, img.Forge+"="+k)
	}
	return inputsKey(parts...), nil
}

func hashText(s string) string { return inputsKey("text", s) }

// Lookup reports whether the local Docker engine has the forge node image
// (images.ForgeNodeImage) built from the current recipe, by comparing its
// InputsLabel with the key the recipe would produce; nothing is built.
// Otherwise it returns an error wrapping ErrNotBuilt with the reason, or
// another error when Docker cannot be asked.
func Lookup(ctx context.Context) (nodeImage string, err error) {
	want, err := nodeKey()
	if err != nil {
		return "", fmt.Errorf("look up the forge node image: %w", err)
	}
	got, err := imageLabel(ctx, images.ForgeNodeImage)
	switch {
	case errors.Is(err, errNoImage):
		return "", fmt.Errorf("%w: %s is not in the local Docker engine (run the forge to build it)", ErrNotBuilt, images.ForgeNodeImage)
	case err != nil:
		return "", fmt.Errorf("look up the forge node image: %w", err)
	case got == "":
		return "", fmt.Errorf("%w: %s has no %s label: it was not built by the forge", ErrNotBuilt, images.ForgeNodeImage, InputsLabel)
	case got != want:
		return "", fmt.Errorf("%w: %s was built from other inputs (label %s=%s, current recipe %s): rebuild it with the forge",
			ErrNotBuilt, images.ForgeNodeImage, InputsLabel, strings.TrimSpace(got), want)
	}
	return images.ForgeNodeImage, nil
}
