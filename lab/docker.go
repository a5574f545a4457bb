package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ErrNoDocker means no Docker engine answered.
var ErrNoDocker = errors.New("no Docker engine: start dockerd (on the nodelab dev VMs: ../shared/env/docker-up) and retry; `nodelab doctor` checks the host")

// docker runs the docker CLI and returns its trimmed stdout; stderr goes into the error.
func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "", fmt.Errorf("docker CLI not found: install Docker: %w", ErrNoDocker)
		}
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// CheckDocker fails with ErrNoDocker when the engine does not answer within 15s.
func CheckDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := docker(ctx, "version", "--format", "{{.Server.Version}}"); err != nil {
		return fmt.Errorf("%w (%w)", ErrNoDocker, err)
	}
	return nil
}

// HostCgroupVersion is the cgroup version the Docker engine (and so every
// kind node) runs on: 1 or 2.
func HostCgroupVersion(ctx context.Context) (int, error) {
	out, err := docker(ctx, "info", "--format", "{{.CgroupVersion}}")
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
	_, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	return err == nil
}

func networkExists(ctx context.Context, name string) bool {
	_, err := docker(ctx, "network", "inspect", "--format", "{{.Id}}", name)
	return err == nil
}

// removeNetworkIfEmpty removes a docker network that has no containers.
func removeNetworkIfEmpty(ctx context.Context, name string) error {
	out, err := docker(ctx, "network", "inspect", "--format", "{{len .Containers}}", name)
	if err != nil {
		return nil // already gone
	}
	if out != "0" {
		return nil
	}
	_, err = docker(ctx, "network", "rm", name)
	return err
}

// containerID returns the full ID of a container by name, or "".
func containerID(ctx context.Context, name string) string {
	id, err := docker(ctx, "container", "inspect", "--format", "{{.Id}}", name)
	if err != nil {
		return ""
	}
	return id
}
