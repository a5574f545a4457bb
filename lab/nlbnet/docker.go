package nlbnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// errNoDocker is what a missing docker CLI turns into; it matches the
// advice of lab.ErrNoDocker, which this package cannot import (lab imports
// it for `nodelab down`).
var errNoDocker = errors.New("no Docker engine: start dockerd (on the nodelab dev VMs: ../shared/env/docker-up) and retry")

// docker runs the docker CLI and returns its trimmed stdout; stderr goes
// into the error.
func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "", fmt.Errorf("docker CLI not found: install Docker: %w", errNoDocker)
		}
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// isNoSuchContainer reports a docker error about a container that is gone,
// which removal treats as done (the container runs with --rm, so it may
// have gone by itself).
func isNoSuchContainer(err error) bool {
	return err != nil && strings.Contains(err.Error(), "No such container")
}
