package redisportforward

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

const (
	// movedTries is how many SETs the plain client sends looking for MOVED.
	movedTries = 100
	// pitfallWrites is how many keys the pitfall's cluster client writes.
	pitfallWrites = 30
)

// unreachablePodAddrs dials every pod's redis port from here (in parallel,
// probeDial each) and returns each podIP:6379 with its dial error. A pod
// that answers means the pitfall cannot happen here, which is an error.
func (r *Runbook) unreachablePodAddrs(ctx context.Context) (map[string]error, error) {
	if len(r.podIPs) == 0 {
		return nil, errors.New("precondition: no pod IPs known (did Deploy run?)")
	}
	type result struct {
		addr string
		err  error
	}
	results := make(chan result, len(r.podIPs))
	for _, ip := range r.podIPs {
		addr := net.JoinHostPort(ip, strconv.Itoa(redisPort))
		go func() {
			d := net.Dialer{Timeout: probeDial}
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				conn.Close()
			}
			results <- result{addr, err}
		}()
	}
	unreachable := map[string]error{}
	var reachable []string
	for range r.podIPs {
		res := <-results
		if res.err == nil {
			reachable = append(reachable, res.addr)
			continue
		}
		unreachable[res.addr] = res.err
	}
	if len(reachable) > 0 {
		slices.Sort(reachable)
		return nil, fmt.Errorf("precondition: pod addresses %s are reachable from the host, so the pitfall cannot happen here (unreachable: %v)", strings.Join(reachable, ", "), unreachable)
	}
	for _, addr := range slices.Sorted(maps.Keys(unreachable)) {
		r.env.Logf("precondition: dial %s from the host: %v", addr, unreachable[addr])
	}
	return unreachable, nil
}

// firstMoved sends up to tries SETs pitfall:<i> through c and returns the
// first MOVED reply, or "" if none came.
func firstMoved(ctx context.Context, c *redis.Client, tries int) string {
	for i := 0; i < tries; i++ {
		err := c.Set(ctx, fmt.Sprintf("pitfall:%d", i), i, 0).Err()
		if err != nil && strings.HasPrefix(err.Error(), "MOVED ") {
			return err.Error()
		}
	}
	return ""
}

// oneForwardWrites is what the pitfall's cluster client saw, by whose slot
// each write went to: redis-0's own, or another master's.
type oneForwardWrites struct {
	self                                 string // redis-0's announced address
	others, othersFailed, own, ownFailed int
	wrote                                []string       // keys of other masters' slots that were written
	wrongErr                             error          // the first failure that is not the pitfall's dial error
	example                              error          // the first failure that is
	dialed                               map[string]int // pod address named by the dial error → writes
}

func (w *oneForwardWrites) counts() string {
	return fmt.Sprintf("%d of %d writes to slots of the other masters failed, %d of %d to redis-0's own slots", w.othersFailed, w.others, w.ownFailed, w.own)
}

// writeThroughOneForward writes pitfallWrites keys pitfall:cc:<i> with a
// cluster client seeded with the one forward (seed) of redis-0, whose plain
// client c says who owns each key's slot.
//
// The cluster client learns pod IPs from CLUSTER SLOTS and dials them. A
// write to a slot of another master must fail with a dial error to an
// unreachable pod IP:6379. A write to one of redis-0's own slots may succeed
// (go-redis dials redis-0's announced IP too, so it usually fails the same
// way); if it fails, it must fail the same way. DialerRetries 1 (default 5)
// and pitfallDial keep the writes within a minute on a host where pod IPs
// time out rather than refuse; the error is the same.
func (r *Runbook) writeThroughOneForward(ctx context.Context, c *redis.Client, seed string, unreachable map[string]error) (*oneForwardWrites, error) {
	// Who owns each key's slot, per redis-0 (the view the cluster client gets).
	slots, err := c.ClusterSlots(ctx).Result() //nolint:staticcheck // the slot view go-redis itself routes by
	if err != nil {
		return nil, fmt.Errorf("CLUSTER SLOTS on redis-0: %w", err)
	}
	w := &oneForwardWrites{self: net.JoinHostPort(r.podIPs["redis-0"], strconv.Itoa(redisPort)), dialed: map[string]int{}}
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{seed}, DialTimeout: pitfallDial, DialerRetries: 1, ReadTimeout: clusterRead,
		MaxRedirects: 3, MaxRetries: -1, DisableIdentity: true,
	})
	defer cc.Close()
	for i := 0; i < pitfallWrites; i++ {
		key := fmt.Sprintf("pitfall:cc:%d", i)
		slot, err := c.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			return nil, fmt.Errorf("CLUSTER KEYSLOT %s on redis-0: %w", key, err)
		}
		w.record(key, int(slot), ownerOf(slots, int(slot)), cc.Set(ctx, key, i, 0).Err(), unreachable)
	}
	return w, nil
}

// record counts one write to key (in slot, owned by owner) that returned werr.
func (w *oneForwardWrites) record(key string, slot int, owner string, werr error, unreachable map[string]error) {
	if owner == w.self {
		w.own++
	} else {
		w.others++
	}
	switch {
	case werr == nil && owner != w.self:
		w.wrote = append(w.wrote, fmt.Sprintf("%s (slot %d on %s)", key, slot, owner))
		return
	case werr == nil:
		return
	case owner == w.self:
		w.ownFailed++
	default:
		w.othersFailed++
	}
	addr, ok := dialAddr(werr)
	switch {
	case !ok && w.wrongErr == nil:
		w.wrongErr = fmt.Errorf("write %s (slot %d, owned by %s) failed, but not with a dial error (*net.OpError, Op dial): %w", key, slot, owner, werr)
	case ok && unreachable[addr] == nil && w.wrongErr == nil:
		w.wrongErr = fmt.Errorf("write %s (slot %d, owned by %s) failed dialling %s, which is not one of the pod addresses the host cannot reach (%s): %w",
			key, slot, owner, addr, strings.Join(slices.Sorted(maps.Keys(unreachable)), ", "), werr)
	case ok && unreachable[addr] != nil:
		w.dialed[addr]++
		if w.example == nil {
			w.example = werr
		}
	}
}

// dialAddr returns the address a dial error names (a *net.OpError with Op
// "dial" in err's chain).
func dialAddr(err error) (string, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || op.Addr == nil {
		return "", false
	}
	return op.Addr.String(), true
}

// namesPodIP reports whether s names one of the pods' IPs with a port.
func (r *Runbook) namesPodIP(s string) bool {
	for _, ip := range r.podIPs {
		if strings.Contains(s, ip+":") {
			return true
		}
	}
	return false
}
