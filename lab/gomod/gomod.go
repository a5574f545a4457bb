// Package gomod finds the folder of a Go module version, downloading it
// through the module proxy when needed: how addons read manifests and
// charts that upstream ships inside its module (Chaos Mesh's chart,
// Multus' DaemonSet, the NAD and MultiNetworkPolicy CRDs).
package gomod

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
)

// Dir returns the module cache folder of mod@version.
func Dir(ctx context.Context, mod, version string) (string, error) {
	ref := mod + "@" + version
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", ref).Output()
	if err != nil {
		return "", fmt.Errorf("download %s for its manifests (needs the go command and the module proxy; check `go env GOPROXY`): %w", ref, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("download %s: %w", ref, err)
	}
	if m.Dir == "" {
		return "", fmt.Errorf("download %s: no module folder (%s)", ref, m.Error)
	}
	return m.Dir, nil
}
