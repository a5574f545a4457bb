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
// The table is kept current by Refresh (for example lab/instruments/portforward's
// Set.Sync, which drops the forward of a deleted pod and starts one for its
// successor). Dial calls it when an address has no route and when dialling a
// known route fails, then dials once more, so a client recovers from a
// failover without help. Addresses on loopback are dialled as they are; any
// other unknown address is an error that names it and the known routes.
package redisnat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// Dialer rewrites cluster-announced addresses to reachable ones.
type Dialer struct {
	// Refresh returns the current table (announced → reachable). Dial calls
	// it when an address has no route, and when dialling a known route
	// fails (a forward that ended with its pod), then looks the address up
	// and dials once more. nil means the table only changes by SetRoutes.
	// lab/instruments/portforward's Set.Sync has this signature.
	Refresh func(ctx context.Context) (map[string]string, error)
	// MinRefreshInterval is the least time between two Refresh calls, so a
	// client hammering a dead address does not hammer the API server too;
	// a dial within it retries on the table as it is. 0 means
	// DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// Base dials the rewritten address; nil uses a net.Dialer.
	Base func(ctx context.Context, network, addr string) (net.Conn, error)

	mu        sync.RWMutex
	routes    map[string]string
	refreshMu sync.Mutex
	refreshed time.Time // when the last Refresh returned; under refreshMu
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
	to, how := d.lookup(addr)
	return to, how != noRoute
}

type routeKind int

const (
	noRoute routeKind = iota
	mapped
	loopback
)

func (d *Dialer) lookup(addr string) (string, routeKind) {
	d.mu.RLock()
	to, ok := d.routes[addr]
	d.mu.RUnlock()
	if ok {
		return to, mapped
	}
	if isLoopback(addr) {
		return addr, loopback
	}
	return "", noRoute
}

// Dial has the signature of redis.ClusterOptions.Dialer. A dial error keeps
// the *net.OpError of the rewritten address in its chain (go-redis retries
// on it); an address without a route, even after Refresh, is an error that
// names it and the known routes.
func (d *Dialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	started := time.Now()
	to, how := d.lookup(addr)
	var firstErr error // dialling the route known before the refresh
	if how != noRoute {
		conn, err := d.dial(ctx, network, to)
		if err == nil {
			return conn, nil
		}
		firstErr = fmt.Errorf("redisnat: dial %s for %s: %w", to, addr, err)
		if how == loopback || d.Refresh == nil {
			return nil, firstErr
		}
	} else if d.Refresh == nil {
		return nil, d.noRoute(addr)
	}
	if err := d.refresh(ctx, addr, started); err != nil {
		return nil, errors.Join(firstErr, err)
	}
	to2, how := d.lookup(addr)
	if how == noRoute {
		if firstErr != nil {
			// firstErr as text: without a *net.OpError in the chain, go-redis
			// does not retry an address that is gone.
			return nil, fmt.Errorf("%w (after %s, routes refreshed)", d.noRoute(addr), firstErr.Error())
		}
		return nil, d.noRoute(addr)
	}
	conn, err := d.dial(ctx, network, to2)
	if err != nil {
		if firstErr != nil {
			return nil, fmt.Errorf("redisnat: dial %s for %s after refreshing routes (before: %s): %w", to2, addr, firstErr.Error(), err)
		}
		return nil, fmt.Errorf("redisnat: dial %s for %s: %w", to2, addr, err)
	}
	return conn, nil
}

func (d *Dialer) noRoute(addr string) error {
	return fmt.Errorf("redisnat: no route for %s (an address the cluster announced); known: %s", addr, d.describe())
}

func (d *Dialer) dial(ctx context.Context, network, to string) (net.Conn, error) {
	if d.Base != nil {
		return d.Base(ctx, network, to)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, to)
}

// refresh runs Refresh at most once for the dials that started before it
// and at most once per MinRefreshInterval; the others use the table as it
// is when they get the lock.
func (d *Dialer) refresh(ctx context.Context, addr string, started time.Time) error {
	d.refreshMu.Lock()
	defer d.refreshMu.Unlock()
	if d.refreshed.After(started) {
		return nil // another dial refreshed since this one started
	}
	every := d.MinRefreshInterval
	if every <= 0 {
		every = DefaultMinRefreshInterval
	}
	if !d.refreshed.IsZero() && time.Since(d.refreshed) < every {
		return nil
	}
	routes, err := d.Refresh(ctx)
	d.refreshed = time.Now()
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
