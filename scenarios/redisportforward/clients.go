package redisportforward

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/nodelab/nodelab/lab/instruments/portforward"
	"github.com/nodelab/nodelab/lab/instruments/redisnat"
)

// plainClient forwards one pod and returns a single-node client on it.
func (r *Runbook) plainClient(ctx context.Context, pod string) (*redis.Client, *portforward.Forward, error) {
	fw, err := portforward.Start(ctx, r.Lab.Config, r.Namespace, pod, redisPort)
	if err != nil {
		return nil, nil, err
	}
	r.localAddrs = append(r.localAddrs, fw.Addr())
	c := redis.NewClient(&redis.Options{Addr: fw.Addr(), DialTimeout: clientDial, ReadTimeout: plainRead, MaxRetries: -1, DisableIdentity: true})
	return c, fw, nil
}

// remappedClient is fix 2's client: every pod forwarded, addresses remapped.
// The Dialer refreshes its table from the forwards (Set.Sync: re-list the
// pods, re-forward) when a dial fails, so nothing else has to. The cluster
// state is reloaded every ClusterStateReloadInterval: go-redis' default
// (60 s) is longer than RecoverBound, and a deleted master sends no MOVED
// to trigger a reload; users of port-forwarded clusters set it the same way.
func (r *Runbook) remappedClient(ctx context.Context) (*redis.ClusterClient, *redisnat.Dialer, error) {
	if r.forward == nil {
		r.forward = portforward.NewSet(r.Lab.Config, r.Lab.Client, r.Namespace, selector, redisPort)
	}
	routes, err := r.forward.Sync(ctx)
	if err != nil {
		return nil, nil, err
	}
	nat := &redisnat.Dialer{Refresh: r.forward.Sync}
	nat.SetRoutes(routes)
	seed := routes[net.JoinHostPort(r.podIPs["redis-0"], strconv.Itoa(redisPort))]
	if seed == "" {
		return nil, nil, fmt.Errorf("no forward for redis-0 (%s); routes: %v", r.podIPs["redis-0"], routes)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{seed}, Dialer: nat.Dial, DialTimeout: clientDial, ReadTimeout: clusterRead,
		MaxRedirects: 8, DisableIdentity: true, ClusterStateReloadInterval: StateReload,
	})
	return cc, nat, nil
}

// nodeClient is a single-node client on an announced address, through the Dialer.
func nodeClient(nat *redisnat.Dialer, addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Dialer: nat.Dial, DialTimeout: clientDial, ReadTimeout: nodeRead, MaxRetries: -1, DisableIdentity: true})
}

// closeForwards closes fix 2's forwards, keeping their local addresses.
func (r *Runbook) closeForwards() {
	if r.forward == nil {
		return
	}
	r.localAddrs = append(r.localAddrs, r.forward.LocalAddrs()...)
	_ = r.forward.Close()
	r.forward = nil
}

// errText is an observed error as text ("<nil>" when there was none), for
// messages that report what was seen rather than wrap a cause.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
