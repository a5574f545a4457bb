package forge

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// redisRoots are the packages of the redis image: the server (which also
// serves cluster mode) and redis-cli, which `redis-cli --cluster create`
// and the in-cluster client of redis-port-forward use.
var redisRoots = []string{"redis-server", "redis-tools"}

// redisUser runs the server: the skeleton's nonroot user, with /data its own.
const redisUser = "65532:65532"

// redisRecipe builds images.Redis() from bookworm's redis packages: the
// skeleton layer (users, CA bundle), busybox (a shell for Jobs), the
// packages' dependency closure and a writable /data.
func redisRecipe(_ context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	dataLayer := f.layerPath("data-redis")
	return f.debianImageSteps(img, debianImage{
		Roots:   redisRoots,
		Pin:     "redis-server",
		Version: images.RedisDebianVersion,
		Key:     []string{redisUser},
		Config: v1.Config{
			Entrypoint: []string{"redis-server"},
			User:       redisUser,
			WorkingDir: "/data",
			Env:        []string{defaultPath},
			ExposedPorts: map[string]struct{}{
				"6379/tcp": {}, "16379/tcp": {},
			},
		},
		ExtraLayer: func() (string, error) {
			l, err := newLayer(dataLayer, gzip.DefaultCompression)
			if err != nil {
				return "", err
			}
			return dataLayer, errors.Join(l.dirOwned("data", 0o755, 65532, 65532), l.close())
		},
	}), nil
}

// debianImage is an addon image cut from Debian packages of the shared
// extras tree: the skeleton and busybox layers, the dependency closure of
// Roots, and optionally one more layer.
type debianImage struct {
	// Roots are the packages whose closure the image holds; Pin is the one
	// whose installed version must be Version (the image claims it).
	Roots        []string
	Pin, Version string
	// Key lists what else the image depends on (its user, for instance).
	Key    []string
	Config v1.Config
	// ExtraLayer, when set, writes one more layer and returns its path.
	ExtraLayer func() (string, error)
}

// debianImageSteps returns the steps that build img as d says: the node
// root filesystem, the skeleton layers, the extras tree, then the image
// (written as an archive and loaded into the local engine).
func (f *Forge) debianImageSteps(img images.Image, d debianImage) []stepSpec {
	key := inputsKey(append([]string{img.Name, img.Forge, extrasKey(), netbaseKey()}, append(d.Key, d.Version)...)...)
	archive := f.archivePath(img)
	pkgLayer := f.layerPath("pkgs-" + img.Name)
	image := stepSpec{
		name:  "image-" + img.Name,
		title: "Building image " + img.Forge + " from Debian's " + img.Name + " " + d.Version,
		key:   key,
		present: func(ctx context.Context) bool {
			_, err := os.Stat(archive)
			return err == nil && f.imageHasKey(ctx, img.Forge, key)
		},
		run: func(ctx context.Context, log io.Writer) error {
			if err := checkInstalledVersion(f.extrasDir(), d.Pin, d.Version); err != nil {
				return err
			}
			if err := buildPackagesLayer(ctx, log, f.extrasDir(), pkgLayer, d.Roots); err != nil {
				return err
			}
			defer os.Remove(pkgLayer)
			layers := []string{f.layerPath(layerSkeleton), f.layerPath(layerBusybox), pkgLayer}
			if d.ExtraLayer != nil {
				extra, err := d.ExtraLayer()
				if err != nil {
					return err
				}
				defer os.Remove(extra)
				layers = append(layers, extra)
			}
			image, err := newImage(d.Config, key, layers...)
			if err != nil {
				return err
			}
			if err := writeArchive(archive, img.Forge, image); err != nil {
				return err
			}
			return f.dockerLoadFile(ctx, log, img.Forge, archive)
		},
	}
	return []stepSpec{f.rootfsStep(), f.netbaseStep(), f.extrasStep(), image}
}

// checkInstalledVersion fails when root's dpkg database has another version
// of pkg than the pin, so an image never claims a version it does not hold.
func checkInstalledVersion(root, pkg, want string) error {
	st, err := os.Open(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := parseDpkgStatus(st)
	if err != nil {
		return err
	}
	p, ok := db.pkgs[pkg]
	if !ok {
		return fmt.Errorf("%s is not installed in %s", pkg, root)
	}
	if p.Version != want {
		return fmt.Errorf("the Debian mirror gave %s %s, but lab/images pins %s: update the pin (and the upstream image to match)", pkg, p.Version, want)
	}
	return nil
}
