package forge

import (
	"context"

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
	return f.debianImageSteps(img, debianImage{
		Roots:   nginxRoots,
		Pin:     "nginx",
		Version: images.NginxDebianVersion,
		Key:     []string{nginxUser},
		Config: v1.Config{
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
		},
	}), nil
}
