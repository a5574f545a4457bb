// Package dockercli runs the docker CLI: one place that turns a missing CLI
// into ErrNoDocker and puts the command and its stderr into every error.
// It imports nothing from nodelab, so lab and the packages lab imports
// (nlbnet, the addons) share it.
package dockercli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrNoDocker means no Docker engine answered (or no docker CLI is installed).
var ErrNoDocker = errors.New("no Docker engine: start dockerd (on the nodelab dev VMs: ../shared/env/docker-up) and retry; `nodelab doctor` checks the host")

// Run runs `docker args...` and returns its trimmed stdout. A missing CLI
// is ErrNoDocker; any other failure names the command and carries its
// trimmed stderr.
func Run(ctx context.Context, args ...string) (string, error) {
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

// IsNoSuchContainer reports an error of Run about a container that does not
// exist, which a removal may treat as done.
func IsNoSuchContainer(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "no such container")
}
