// Package redisnat lets a redis-cluster client outside the cluster follow
// MOVED and ASK redirects. A cluster node answers with the address it
// announces (the pod IP), which a laptop behind `kubectl port-forward` cannot
// reach. go-redis has no NAT map (ioredis' natMap, redis-py's address_remap),
// but ClusterOptions.Dialer lets a Dialer rewrite each address before it is
// dialled: podIP:6379 → 127.0.0.1:<forwarded port>.
//
//	nat := &redisnat.Dialer{Refresh: forwards.Sync}
//	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{seed}, Dialer: nat.Dial})
//
// The table is kept current by Refresh (for example lab/portforward's
// Set.Sync, which starts a forward for a new pod after a failover). Addresses
// on loopback are dialled as they are; any other unknown address is an
// error that names it and the known routes.
package redisnat

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
)

// Dialer rewrites cluster-announced addresses to reachable ones.
type Dialer struct {
	// Refresh returns the current table (announced → reachable) when an
	// address has no route; nil means the table only changes by SetRoutes.
	Refresh func(ctx context.Context) (map[string]string, error)
	// Base dials the rewritten address; nil uses a net.Dialer.
	Base func(ctx context.Context, network, addr string) (net.Conn, error)

	mu        sync.RWMutex
	routes    map[string]string
	refreshMu sync.Mutex
}

// SetRoutes replaces the table.
func (d *Dialer) SetRoutes(routes map[string]string) {
	cp := make(map[string]string, len(routes))
	for k, v := range routes {
		cp[k] = v
	}
	d.mu.Lock()
	d.routes = cp
	d.mu.Unlock()
}

// Routes returns a copy of the table.
func (d *Dialer) Routes() map[string]string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	cp := make(map[string]string, len(d.routes))
	for k, v := range d.routes {
		cp[k] = v
	}
	return cp
}

// Lookup returns where addr is dialled: its route, itself when it is on
// loopback, or false.
func (d *Dialer) Lookup(addr string) (string, bool) {
	d.mu.RLock()
	to, ok := d.routes[addr]
	d.mu.RUnlock()
	if ok {
		return to, true
	}
	if isLoopback(addr) {
		return addr, true
	}
	return "", false
}

// Dial has the signature of redis.ClusterOptions.Dialer.
func (d *Dialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	to, ok := d.Lookup(addr)
	if !ok && d.Refresh != nil {
		if err := d.refresh(ctx, addr); err != nil {
			return nil, err
		}
		to, ok = d.Lookup(addr)
	}
	if !ok {
		return nil, fmt.Errorf("redisnat: no route for %s (an address the cluster announced); known: %s", addr, d.describe())
	}
	base := d.Base
	if base == nil {
		var nd net.Dialer
		base = nd.DialContext
	}
	conn, err := base(ctx, network, to)
	if err != nil {
		return nil, fmt.Errorf("redisnat: dial %s for %s: %w", to, addr, err)
	}
	return conn, nil
}

// refresh runs Refresh once for concurrent misses of the same address.
func (d *Dialer) refresh(ctx context.Context, addr string) error {
	d.refreshMu.Lock()
	defer d.refreshMu.Unlock()
	if _, ok := d.Lookup(addr); ok {
		return nil // another caller refreshed it meanwhile
	}
	routes, err := d.Refresh(ctx)
	if routes != nil {
		d.SetRoutes(routes)
	}
	if err != nil {
		if _, ok := d.Lookup(addr); !ok {
			return fmt.Errorf("redisnat: refresh routes for %s: %w", addr, err)
		}
	}
	return nil
}

func (d *Dialer) describe() string {
	routes := d.Routes()
	if len(routes) == 0 {
		return "none"
	}
	var parts []string
	for from, to := range routes {
		parts = append(parts, from+"→"+to)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
