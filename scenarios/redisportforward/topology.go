package redisportforward

import (
	"fmt"
	"slices"
	"strings"
)

// parseInfo parses CLUSTER INFO ("key:value" lines) into a map.
func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// infoWant is what CLUSTER INFO says of a ready 3-master cluster of 6 nodes.
var infoWant = [][2]string{
	{"cluster_state", "ok"},
	{"cluster_slots_assigned", "16384"},
	{"cluster_slots_ok", "16384"},
	{"cluster_size", "3"},
	{"cluster_known_nodes", "6"},
}

// infoMismatch lists the fields of CLUSTER INFO that differ from infoWant.
func infoMismatch(info map[string]string) []string {
	var out []string
	for _, kv := range infoWant {
		if got := info[kv[0]]; got != kv[1] {
			out = append(out, fmt.Sprintf("%s=%q (want %s)", kv[0], got, kv[1]))
		}
	}
	return out
}

// node is one line of CLUSTER NODES:
// <id> <ip:port@cport[,hostname]> <flags> <master-id|-> <ping> <pong> <epoch> <link> <slot>...
type node struct {
	ID       string
	Addr     string // ip:port, as the cluster announces it
	Flags    []string
	MasterID string // "" for a master
	Link     string
	Slots    []string
}

func (n node) has(flag string) bool { return slices.Contains(n.Flags, flag) }

func (n node) isMaster() bool { return n.has("master") }

// failing reports a node the cluster considers down (or not yet known).
func (n node) failing() bool {
	return n.has("fail") || n.has("fail?") || n.has("handshake") || n.has("noaddr") || n.Link != "connected"
}

// parseNodes parses the reply of CLUSTER NODES.
func parseNodes(s string) ([]node, error) {
	var out []node
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q: %d fields, want at least 8", line, len(f))
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := node{ID: f[0], Addr: addr, Flags: strings.Split(f[2], ","), Link: f[7], Slots: f[8:]}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("CLUSTER NODES is empty")
	}
	return out, nil
}

// replicasOf returns the replicas of the master with the given ID.
func replicasOf(nodes []node, masterID string) []node {
	var out []node
	for _, n := range nodes {
		if n.has("slave") && n.MasterID == masterID {
			out = append(out, n)
		}
	}
	return out
}

// replicaOf returns the one healthy replica of the master announced as addr.
func replicaOf(nodes []node, addr string) (node, error) {
	for _, m := range nodes {
		if m.Addr != addr {
			continue
		}
		if !m.isMaster() {
			return node{}, fmt.Errorf("%s is %s, not a master", addr, strings.Join(m.Flags, ","))
		}
		var healthy []node
		for _, r := range replicasOf(nodes, m.ID) {
			if !r.failing() {
				healthy = append(healthy, r)
			}
		}
		if len(healthy) != 1 {
			return node{}, fmt.Errorf("master %s (%s) has %d healthy replicas, want 1", addr, m.ID, len(healthy))
		}
		return healthy[0], nil
	}
	return node{}, fmt.Errorf("%s is not in CLUSTER NODES", addr)
}

// topologyProblems says how nodes differ from 3 healthy masters with slots,
// each with exactly one healthy replica; nil when they do not.
func topologyProblems(nodes []node) []string {
	var out []string
	masters := 0
	for _, n := range nodes {
		if n.failing() {
			out = append(out, fmt.Sprintf("%s flags %s link %s", n.Addr, strings.Join(n.Flags, ","), n.Link))
		}
		if !n.isMaster() {
			continue
		}
		masters++
		if len(n.Slots) == 0 {
			out = append(out, fmt.Sprintf("master %s serves no slot", n.Addr))
		}
		if r := replicasOf(nodes, n.ID); len(r) != 1 {
			out = append(out, fmt.Sprintf("master %s has %d replicas, want 1", n.Addr, len(r)))
		}
	}
	if masters != 3 {
		out = append(out, fmt.Sprintf("%d masters, want 3", masters))
	}
	return out
}
