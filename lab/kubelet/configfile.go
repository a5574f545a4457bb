package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nodelab/nodelab/lab/nodeexec"
)

// ErrNoConfigFile: the kubelet runs without --config (its settings are
// flags), so there is no file to read.
var ErrNoConfigFile = errors.New("runs without --config (its settings are flags): no config file")

// ConfigFlag returns the --config path of a kubelet command line as
// /proc/<pid>/cmdline holds it (arguments separated by NUL bytes), or ""
// when the kubelet runs without one.
func ConfigFlag(cmdline []byte) string {
	args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// ReadConfigFile reads the configuration file the node's running kubelet
// was started with (its --config flag: /var/lib/kubelet/config.yaml on
// kubeadm and kind, elsewhere on managed clusters), returning its path.
func ReadConfigFile(ctx context.Context, node nodeexec.Node) (string, []byte, error) {
	pid, err := nodeexec.Run(ctx, node, "pidof", "kubelet")
	if err != nil {
		return "", nil, fmt.Errorf("find the kubelet on %s: %w", node, err)
	}
	fields := strings.Fields(pid)
	if len(fields) != 1 {
		return "", nil, fmt.Errorf("find the kubelet on %s: pidof kubelet = %q, want one process", node, pid)
	}
	cmdline, err := nodeexec.ReadFile(ctx, node, "/proc/"+fields[0]+"/cmdline")
	if err != nil {
		return "", nil, err
	}
	path := ConfigFlag(cmdline)
	if path == "" {
		return "", nil, fmt.Errorf("the kubelet on %s: %w", node, ErrNoConfigFile)
	}
	b, err := nodeexec.ReadFile(ctx, node, path)
	if err != nil {
		return "", nil, err
	}
	return path, b, nil
}
