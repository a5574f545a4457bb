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
	pkgLayer := f.layerPath("pkgs-redis")
	dataLayer := f.layerPath("data-redis")
	key := inputsKey("redis", img.Forge, extrasKey(), netbaseKey(), redisUser, images.RedisDebianVersion)
	archive := f.archivePath(img)
	image := stepSpec{
		name:  "image-" + img.Name,
		title: "Building image " + img.Forge + " from Debian's redis " + images.RedisDebianVersion,
		key:   key,
		present: func(ctx context.Context) bool {
			_, err := os.Stat(archive)
			return err == nil && f.imageHasKey(ctx, img.Forge, key)
		},
		run: func(ctx context.Context, log io.Writer) error {
			if err := checkInstalledVersion(f.extrasDir(), "redis-server", images.RedisDebianVersion); err != nil {
				return err
			}
			if err := buildPackagesLayer(ctx, log, f.extrasDir(), pkgLayer, redisRoots); err != nil {
				return err
			}
			defer os.Remove(pkgLayer)
			l, err := newLayer(dataLayer, gzip.DefaultCompression)
			if err != nil {
				return err
			}
			if err := errors.Join(l.dirOwned("data", 0o755, 65532, 65532), l.close()); err != nil {
				return err
			}
			defer os.Remove(dataLayer)
			cfg := v1.Config{
				Entrypoint: []string{"redis-server"},
				User:       redisUser,
				WorkingDir: "/data",
				Env:        []string{defaultPath},
				ExposedPorts: map[string]struct{}{
					"6379/tcp": {}, "16379/tcp": {},
				},
			}
			image, err := newImage(cfg, key, f.layerPath(layerSkeleton), f.layerPath(layerBusybox), pkgLayer, dataLayer)
			if err != nil {
				return err
			}
			if err := writeArchive(archive, img.Forge, image); err != nil {
				return err
			}
			return f.dockerLoadFile(ctx, log, img.Forge, archive)
		},
	}
	return []stepSpec{f.rootfsStep(), f.netbaseStep(), f.extrasStep(), image}, nil
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
