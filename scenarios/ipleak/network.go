package ipleak

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"

	"github.com/nodelab/nodelab/lab/instruments/hostlocal"
	"github.com/nodelab/nodelab/lab/nodeexec"
)

// NetworkName is the CNI network of the narrowed range; host-local keeps its
// reservations in /var/lib/cni/networks/<NetworkName>, apart from the pod
// network's own.
const NetworkName = "nodelab-ip-leak"

// resultCacheGlob matches libcni's cached ADD results for NetworkName; a
// DEL removes each, so the leaked sandboxes' stay until cleanup.
const resultCacheGlob = "/var/lib/cni/results/" + NetworkName + "-*"

// ConfDir is where containerd's CRI plugin reads CNI configurations; it
// uses the first file in name order.
const ConfDir = "/etc/cni/net.d"

// ConfPath sorts before every pod network's file (10-flannel.conflist,
// 10-kindnet.conflist), so containerd uses it while it exists.
var ConfPath = path.Join(ConfDir, "00-nodelab-ip-leak.conflist")

// activeNetwork is the CNI configuration containerd uses on the node.
type activeNetwork struct {
	File string
	Name string
	// Meta names a meta plugin that manages the file ("multus"), if any.
	Meta string
}

// readActiveNetwork reads the first configuration file of ConfDir and its
// network name.
func readActiveNetwork(ctx context.Context, node nodeexec.Node) (activeNetwork, error) {
	out, err := nodeexec.Run(ctx, node, "ls", "-1", ConfDir)
	if err != nil {
		return activeNetwork{}, err
	}
	var files []string
	for _, f := range strings.Fields(out) {
		if strings.HasSuffix(f, ".conf") || strings.HasSuffix(f, ".conflist") || strings.HasSuffix(f, ".json") {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return activeNetwork{}, fmt.Errorf("no CNI configuration in %s on node %s", ConfDir, node)
	}
	sort.Strings(files)
	file := path.Join(ConfDir, files[0])
	raw, err := nodeexec.Run(ctx, node, "cat", file)
	if err != nil {
		return activeNetwork{}, err
	}
	var conf struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Plugins []struct {
			Type string `json:"type"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal([]byte(raw), &conf); err != nil {
		return activeNetwork{}, fmt.Errorf("read the network name of %s on node %s: %w", file, node, err)
	}
	if conf.Name == "" {
		return activeNetwork{}, fmt.Errorf("%s on node %s names no network", file, node)
	}
	a := activeNetwork{File: file, Name: conf.Name}
	types := []string{conf.Type}
	for _, p := range conf.Plugins {
		types = append(types, p.Type)
	}
	for _, t := range types {
		if t == "multus" || t == "multus-shim" {
			a.Meta = t
		}
	}
	return a, nil
}

// window is the narrowed range: Size consecutive addresses of the node's
// pod CIDR.
type window struct {
	Prefix      netip.Prefix
	First, Last netip.Addr
}

func (w window) String() string { return fmt.Sprintf("%s-%s of %s", w.First, w.Last, w.Prefix) }

// Contains says whether ip is in the window.
func (w window) Contains(ip netip.Addr) bool {
	return !ip.Less(w.First) && !w.Last.Less(ip)
}

// pickWindow returns the highest size consecutive host addresses of the
// pod CIDR that no reservation of the pod network holds (its allocator
// counts up from the bottom), leaving out the broadcast address and the
// gateway (the first address).
func pickWindow(podCIDR string, size int, taken []hostlocal.Reservation) (window, error) {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return window{}, fmt.Errorf("parse the node's podCIDR %q: %w", podCIDR, err)
	}
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 28 {
		return window{}, fmt.Errorf("podCIDR %s: need an IPv4 range of at least 16 addresses", p)
	}
	used := map[netip.Addr]bool{}
	for _, r := range taken {
		used[r.IP] = true
	}
	last := broadcast(p).Prev()
	gateway := p.Addr().Next()
	run := 0
	for ip := last; p.Contains(ip) && ip != gateway; ip = ip.Prev() {
		if used[ip] {
			run = 0
			last = ip.Prev()
			continue
		}
		run++
		if run == size {
			return window{Prefix: p, First: ip, Last: last}, nil
		}
	}
	return window{}, fmt.Errorf("no %d free consecutive addresses in %s (the pod network holds %d)", size, p, len(taken))
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// conflist is the narrowed network: the ptp plugin (a veth per pod and a
// host route to its /32, which works beside flannel's bridge and kindnet's
// ptp alike) with host-local giving addresses from the window only.
func conflist(w window) ([]byte, error) {
	gw := w.Prefix.Addr().Next()
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       NetworkName,
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"ipam": map[string]any{
					"type": "host-local",
					"ranges": [][]map[string]string{{{
						"subnet": w.Prefix.String(), "rangeStart": w.First.String(), "rangeEnd": w.Last.String(), "gateway": gw.String(),
					}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}
