package lab

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nodelab/nodelab/lab/dockercli"
)

// ErrNoDocker means no Docker engine answered; it is dockercli.ErrNoDocker,
// so errors.Is matches it whichever package made the error.
var ErrNoDocker = dockercli.ErrNoDocker

// CheckDocker fails with ErrNoDocker when the engine does not answer within 15s.
func CheckDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerAnswerTimeout)
	defer cancel()
	if _, err := dockercli.Run(ctx, "version", "--format", "{{.Server.Version}}"); err != nil {
		return fmt.Errorf("%w (%w)", ErrNoDocker, err)
	}
	return nil
}

// HostCgroupVersion is the cgroup version the Docker engine (and so every
// kind node) runs on: 1 or 2.
func HostCgroupVersion(ctx context.Context) (int, error) {
	out, err := dockercli.Run(ctx, "info", "--format", "{{.CgroupVersion}}")
	if err != nil {
		return 0, fmt.Errorf("read the engine's cgroup version: %w", err)
	}
	v, err := strconv.Atoi(out)
	if err != nil || (v != 1 && v != 2) {
		return 0, fmt.Errorf("read the engine's cgroup version: unexpected %q", out)
	}
	return v, nil
}

func imagePresent(ctx context.Context, ref string) bool {
	_, err := dockercli.Run(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	return err == nil
}

func networkExists(ctx context.Context, name string) bool {
	_, err := dockercli.Run(ctx, "network", "inspect", "--format", "{{.Id}}", name)
	return err == nil
}

// removeNetworkIfEmpty removes a docker network that has no containers.
func removeNetworkIfEmpty(ctx context.Context, name string) error {
	out, err := dockercli.Run(ctx, "network", "inspect", "--format", "{{len .Containers}}", name)
	if err != nil {
		return nil // already gone
	}
	if out != "0" {
		return nil
	}
	_, err = dockercli.Run(ctx, "network", "rm", name)
	return err
}

// containerID returns the full ID of a container by name, or "".
func containerID(ctx context.Context, name string) string {
	id, err := dockercli.Run(ctx, "container", "inspect", "--format", "{{.Id}}", name)
	if err != nil {
		return ""
	}
	return id
}
