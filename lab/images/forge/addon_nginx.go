package forge

import (
	"context"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// nginxRoots are the packages of the nginx image: bookworm's nginx (the
// binary and its modules' dependency closure; nginx-common's default
// configuration comes along, the scenario mounts its own).
var nginxRoots = []string{"nginx"}

// nginxUser runs nginx: the skeleton's nonroot user. The scenario's
// configuration listens on 8080 and keeps its pid and temp files in /tmp.
const nginxUser = "65532:65532"

// nginxRecipe builds images.Nginx() from bookworm's nginx package: the
// skeleton layer (users, CA bundle), busybox (a shell, nslookup) and the
// package's dependency closure.
func nginxRecipe(_ context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	pkgLayer := f.layerPath("pkgs-nginx")
	key := inputsKey("nginx", img.Forge, extrasKey(), netbaseKey(), nginxUser, images.NginxDebianVersion)
	archive := f.archivePath(img)
	image := stepSpec{
		name:  "image-" + img.Name,
		title: "Building image " + img.Forge + " from Debian's nginx " + images.NginxDebianVersion,
		key:   key,
		present: func(ctx context.Context) bool {
			_, err := os.Stat(archive)
			return err == nil && f.imageHasKey(ctx, img.Forge, key)
		},
		run: func(ctx context.Context, log io.Writer) error {
			if err := checkInstalledVersion(f.extrasDir(), "nginx", images.NginxDebianVersion); err != nil {
				return err
			}
			if err := buildPackagesLayer(ctx, log, f.extrasDir(), pkgLayer, nginxRoots); err != nil {
				return err
			}
			defer os.Remove(pkgLayer)
			cfg := v1.Config{
				// -e: nginx opens its compiled-in error log
				// (/var/log/nginx/error.log) before it reads the
				// configuration; stderr needs no writable /var/log.
				Entrypoint: []string{"/usr/sbin/nginx", "-e", "stderr", "-g", "daemon off;"},
				User:       nginxUser,
				Env:        []string{defaultPath},
				StopSignal: "SIGQUIT",
				ExposedPorts: map[string]struct{}{
					"8080/tcp": {},
				},
			}
			image, err := newImage(cfg, key, f.layerPath(layerSkeleton), f.layerPath(layerBusybox), pkgLayer)
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
