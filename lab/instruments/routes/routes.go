// Package routes reads routing tables as `ip route` prints them, to check
// that a scenario never routes lab ranges (pod networks, secondary
// networks) through the host: other scenarios rely on pod IPs being
// unreachable from it.
package routes

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// Overlapping returns the lines of `ip route` output whose destination
// overlaps prefix (default routes excluded: they match everything).
func Overlapping(routes string, prefix netip.Prefix) []string {
	var bad []string
	for _, line := range strings.Split(routes, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		switch dst {
		case "unreachable", "blackhole", "prohibit", "throw":
			// Not a path anywhere.
			continue
		}
		if dst == "local" || dst == "broadcast" || dst == "multicast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if dst == "default" {
			continue
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		p, err := netip.ParsePrefix(dst)
		if err != nil {
			continue
		}
		if p.Overlaps(prefix) {
			bad = append(bad, strings.TrimSpace(line))
		}
	}
	return bad
}

// Host is the host's `ip -4 route show table all`.
func Host(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return "", fmt.Errorf("list the host's routes (ip -4 route show table all): %w", err)
	}
	return string(out), nil
}
