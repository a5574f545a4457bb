// Package hostlocal reads and releases the address reservations of the CNI
// host-local IPAM plugin on a node: one file per reserved address in
// /var/lib/cni/networks/<network>/, named by the address and holding the
// container ID of the sandbox it was given to and the interface name.
//
// host-local frees a reservation only on CNI DEL. A sandbox that disappears
// without one (the runtime's state wiped, a node rebooted with /var kept)
// keeps its address reserved for ever: Orphans finds those against the
// sandboxes the runtime really holds, and Release removes them under
// host-local's own lock, checking each file still names the container it
// named when read.
package hostlocal

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"

	"github.com/nodelab/nodelab/lab/nodeexec"
)

// Dir is where host-local keeps its reservations.
const Dir = "/var/lib/cni/networks"

// Reservation is one reserved address.
type Reservation struct {
	IP          netip.Addr
	ContainerID string
	IfName      string
}

func (r Reservation) String() string {
	return fmt.Sprintf("%s (sandbox %s)", r.IP, shortID(r.ContainerID))
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// NetworkDir is the reservation folder of a CNI network name.
func NetworkDir(network string) string { return path.Join(Dir, network) }

// Read lists the reservations of network on node (none when the folder
// does not exist), sorted by address.
func Read(ctx context.Context, node nodeexec.Node, network string) ([]Reservation, error) {
	dir := NetworkDir(network)
	// One line per file: name, tab, content with CR/LF made spaces.
	script := `d="$1"; [ -d "$d" ] || exit 0; cd "$d" || exit 1
for f in *; do [ -f "$f" ] || continue; printf '%s\t' "$f"; tr '\r\n' '  ' < "$f"; echo; done`
	out, err := nodeexec.Run(ctx, node, "sh", "-c", script, "sh", dir)
	if err != nil {
		return nil, fmt.Errorf("read host-local reservations in %s: %w", dir, err)
	}
	return Parse(out), nil
}

// Parse reads Read's listing; files whose name is not an address
// (last_reserved_ip.0, lock) are skipped.
func Parse(listing string) []Reservation {
	var out []Reservation
	for _, line := range strings.Split(listing, "\n") {
		name, content, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		ip, err := netip.ParseAddr(name)
		if err != nil {
			continue
		}
		f := strings.Fields(content)
		r := Reservation{IP: ip}
		if len(f) > 0 {
			r.ContainerID = f[0]
		}
		if len(f) > 1 {
			r.IfName = f[1]
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}

// Orphans returns the reservations whose container is not in live (the
// IDs of every sandbox the runtime holds, running or not).
func Orphans(res []Reservation, live map[string]bool) []Reservation {
	var out []Reservation
	for _, r := range res {
		if !live[r.ContainerID] {
			out = append(out, r)
		}
	}
	return out
}

// Release removes reservations of network on node, holding host-local's
// lock file so no allocation runs meanwhile. A file whose content no
// longer starts with the container ID it had is left alone (it was
// released and given again since it was read). It returns the addresses
// released.
func Release(ctx context.Context, node nodeexec.Node, network string, res []Reservation) ([]netip.Addr, error) {
	if len(res) == 0 {
		return nil, nil
	}
	dir := NetworkDir(network)
	var args bytes.Buffer
	for _, r := range res {
		fmt.Fprintf(&args, "%s %s\n", r.IP, r.ContainerID)
	}
	script := `d="$1"; cd "$d" || exit 1
exec 9>>lock; flock -w 10 9 || { echo "host-local lock in $d held for 10s" >&2; exit 1; }
while read -r ip id; do
  [ -f "$ip" ] || continue
  first=$(head -n1 "$ip" | tr -d '\r')
  if [ "$first" = "$id" ]; then rm -f "$ip" && echo "$ip"; fi
done`
	cmd := node.CommandContext(ctx, "sh", "-c", script, "sh", dir)
	var stdout, stderr bytes.Buffer
	if err := cmd.SetStdin(&args).SetStdout(&stdout).SetStderr(&stderr).Run(); err != nil {
		return nil, fmt.Errorf("release host-local reservations in %s on node %s: %w: %s", dir, node, err, strings.TrimSpace(stderr.String()))
	}
	var released []netip.Addr
	for _, f := range strings.Fields(stdout.String()) {
		if ip, err := netip.ParseAddr(f); err == nil {
			released = append(released, ip)
		}
	}
	return released, nil
}
