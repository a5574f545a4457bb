package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// engine is what `docker info` says about the Docker engine kind will use.
// Its view matters more than this machine's when they differ (a remote
// engine, Docker Desktop's VM).
type engine struct {
	ServerVersion string `json:"ServerVersion"`
	CgroupVersion string `json:"CgroupVersion"`
	CgroupDriver  string `json:"CgroupDriver"`
	DockerRootDir string `json:"DockerRootDir"`
	MemTotal      int64  `json:"MemTotal"`
}

// checkDocker checks that the engine answers and returns what it says
// about itself; engine is nil when it does not answer.
func checkDocker(ctx context.Context, env *Env) (Check, *engine) {
	c := Check{Name: "Docker engine reachable"}
	if _, err := env.LookPath("docker"); err != nil {
		c.Status, c.Detail = Fail, "no docker command in PATH: install Docker (Debian: apt-get install docker.io)"
		return c, nil
	}
	out, err := env.Run(ctx, "docker", "version", "--format", "{{.Server.Version}}")
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("docker version: %s: start dockerd (e.g. systemctl start docker; in nodelab's workplace ../shared/env/docker-up) and retry", firstLine(err.Error()))
		return c, nil
	}
	e := &engine{ServerVersion: strings.TrimSpace(out)}
	if info, err := env.Run(ctx, "docker", "info", "--format", "{{json .}}"); err == nil {
		if err := json.Unmarshal([]byte(info), e); err != nil {
			e = &engine{ServerVersion: strings.TrimSpace(out)}
		}
	}
	c.Status, c.Detail = Pass, "server "+e.ServerVersion
	return c, e
}

// maxImagesTried bounds the local images tried for the privileged check.
const maxImagesTried = 3

// checkPrivileged runs /bin/true in a privileged container, as kind runs its
// nodes, from an image already present: the node image if built, else any
// local image. It never pulls.
func checkPrivileged(ctx context.Context, env *Env, e *engine, nodeImage string) Check {
	c := Check{Name: "Privileged container works", Status: Warn}
	if e == nil {
		c.Detail = "not checked: the Docker engine is unreachable"
		return c
	}
	candidates, err := localImages(ctx, env, nodeImage)
	if err != nil {
		c.Detail = fmt.Sprintf("not checked: listing local images failed: %s", firstLine(err.Error()))
		return c
	}
	if len(candidates) == 0 {
		c.Detail = fmt.Sprintf("not checked: no image is present locally to run and nodelab never pulls; build the forge node image %s and re-run", nodeImage)
		return c
	}
	for _, img := range candidates {
		_, err := env.Run(ctx, "docker", "run", "--rm", "--privileged", "--pull=never", "--network=none", "--entrypoint", "/bin/true", img)
		if err == nil {
			c.Status, c.Detail = Pass, "ran /bin/true privileged in "+img
			return c
		}
		msg := err.Error()
		if strings.Contains(msg, "/bin/true") && (strings.Contains(msg, "no such file") || strings.Contains(msg, "not found")) {
			continue // this image has no /bin/true; try another
		}
		c.Status = Fail
		c.Detail = fmt.Sprintf("docker run --privileged %s: %s; %s", img, firstLine(msg), privilegedAdvice(msg))
		return c
	}
	c.Detail = fmt.Sprintf("not checked: none of %s has /bin/true; build the forge node image %s and re-run", strings.Join(candidates, ", "), nodeImage)
	return c
}

func privilegedAdvice(msg string) string {
	if strings.Contains(msg, "unable to apply caps") {
		return "the host's capability bounding set lacks a capability Docker grants privileged containers; in nodelab's workplace ../shared/env/docker-up installs a runtime wrapper for this"
	}
	return "kind nodes must run as privileged containers: use a rootful Docker engine without userns-remap"
}

// localImages lists up to maxImagesTried images present in the engine,
// the node image first.
func localImages(ctx context.Context, env *Env, nodeImage string) ([]string, error) {
	var out []string
	if _, err := env.Run(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", nodeImage); err == nil {
		out = append(out, nodeImage)
	}
	list, err := env.Run(ctx, "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		if len(out) > 0 {
			return out, nil
		}
		return nil, err
	}
	for _, ref := range strings.Fields(list) {
		if len(out) == maxImagesTried {
			break
		}
		if strings.Contains(ref, "<none>") || ref == nodeImage {
			continue
		}
		out = append(out, ref)
	}
	return out, nil
}

// checkCgroupVersion reports the cgroup hierarchy kind nodes will get: the
// engine's, or this machine's when the engine does not answer.
func checkCgroupVersion(env *Env, e *engine) Check {
	c := Check{Name: "cgroup version"}
	version, source := "", ""
	if e != nil && e.CgroupVersion != "" {
		version, source = e.CgroupVersion, "docker info"
	} else {
		fs, err := env.Statfs("/sys/fs/cgroup")
		switch {
		case err != nil:
			c.Status, c.Detail = Warn, fmt.Sprintf("could not tell: the Docker engine is unreachable and statfs /sys/fs/cgroup failed: %v", err)
			return c
		case fs.Type == cgroup2Magic:
			version = "2"
		case fs.Type == tmpfsMagic:
			version = "1"
		}
		source = "/sys/fs/cgroup"
	}
	switch version {
	case "2":
		c.Status, c.Detail = Pass, "cgroup v2, from "+source
	case "1":
		c.Status, c.Detail = Warn, fmt.Sprintf("cgroup v1, from %s: Kubernetes ≥ 1.35 needs failCgroupV1: false on it, which nodelab sets; most users run v2, so memory and eviction results can differ from theirs; boot with systemd.unified_cgroup_hierarchy=1 to test on v2", source)
	default:
		c.Status, c.Detail = Warn, fmt.Sprintf("could not tell the cgroup version: %s reports %q", source, version)
	}
	return c
}

// statfs magic numbers (linux/magic.h).
const (
	cgroup2Magic = 0x63677270
	tmpfsMagic   = 0x01021994
)

const gib = 1 << 30

// Thresholds for free disk under the Docker root: node and forge images
// take several GiB, and kind nodes write their containers' layers there.
const (
	minDiskPass = 20 * gib
	minDiskWarn = 5 * gib
)

// checkDisk checks the free space where the engine keeps images and
// container layers.
func checkDisk(env *Env, e *engine) Check {
	c := Check{Name: "Free disk for Docker root", Status: Warn}
	if e == nil || e.DockerRootDir == "" {
		c.Detail = "not checked: the Docker engine did not say where its root directory is"
		return c
	}
	fs, err := env.Statfs(e.DockerRootDir)
	if err != nil {
		c.Detail = fmt.Sprintf("not checked: statfs %s: %v; is the engine on another machine?", e.DockerRootDir, err)
		return c
	}
	free := fmt.Sprintf("%s free in %s", gibString(fs.Avail), e.DockerRootDir)
	switch {
	case fs.Avail >= minDiskPass:
		c.Status, c.Detail = Pass, free
	case fs.Avail >= minDiskWarn:
		c.Status, c.Detail = Warn, fmt.Sprintf("%s, less than %s: node and forge images may not fit; free space (docker system prune) or move the Docker root", free, gibString(minDiskPass))
	default:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s, less than %s: a lab will not fit; free space (docker system prune) or move the Docker root", free, gibString(minDiskWarn))
	}
	return c
}

func gibString(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/gib) }

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}
