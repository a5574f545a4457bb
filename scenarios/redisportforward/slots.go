package redisportforward

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
)

// keysPerMaster counts keys matching pattern on each master, by address.
func keysPerMaster(ctx context.Context, cc *redis.ClusterClient, pattern string) (map[string]int, error) {
	out := map[string]int{}
	var mu = make(chan struct{}, 1)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		n := 0
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		if err := iter.Err(); err != nil {
			return err
		}
		mu <- struct{}{}
		out[c.Options().Addr] = n
		<-mu
		return nil
	})
	return out, err
}

// spread sums keys per master: the total and how many masters hold any.
func spread(perMaster map[string]int) (total, masters int) {
	for _, n := range perMaster {
		total += n
		if n > 0 {
			masters++
		}
	}
	return total, masters
}

// writeAll writes prefix<i> to keys key(0)..key(n-1).
func writeAll(ctx context.Context, cc *redis.ClusterClient, n int, key func(int) string, prefix string) error {
	for i := 0; i < n; i++ {
		if err := cc.Set(ctx, key(i), fmt.Sprintf("%s%d", prefix, i), 0).Err(); err != nil {
			return fmt.Errorf("write %s: %w", key(i), err)
		}
	}
	return nil
}

// readAll reads keys key(0)..key(n-1) and wants prefix<i> in each.
func readAll(ctx context.Context, cc *redis.ClusterClient, n int, key func(int) string, prefix string) error {
	for i := 0; i < n; i++ {
		v, err := cc.Get(ctx, key(i)).Result()
		if err != nil || v != fmt.Sprintf("%s%d", prefix, i) {
			return fmt.Errorf("read %s = %q (error: %s); want %s%d", key(i), v, errText(err), prefix, i)
		}
	}
	return nil
}

// masterOf returns the announced address of the master of slot, per the
// cluster client's CLUSTER SLOTS.
func masterOf(ctx context.Context, cc *redis.ClusterClient, slot int) (string, error) {
	slots, err := cc.ClusterSlots(ctx).Result() //nolint:staticcheck // the slot view go-redis itself routes by
	if err != nil {
		return "", err
	}
	if owner := ownerOf(slots, slot); owner != "" {
		return owner, nil
	}
	return "", fmt.Errorf("slot %d has no master in CLUSTER SLOTS", slot)
}

// ownerOf returns the master address of slot in a CLUSTER SLOTS reply, or "".
func ownerOf(slots []redis.ClusterSlot, slot int) string {
	for _, s := range slots {
		if slot >= s.Start && slot <= s.End && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr
		}
	}
	return ""
}

// masterAddrs lists the masters' announced addresses, sorted, per the
// cluster client's CLUSTER SLOTS (none when it cannot be read).
func (r *Runbook) masterAddrs(ctx context.Context, cc *redis.ClusterClient) []string {
	var out []string
	slots, err := cc.ClusterSlots(ctx).Result() //nolint:staticcheck // the slot view go-redis itself routes by
	if err != nil {
		return nil
	}
	for _, s := range slots {
		if len(s.Nodes) > 0 && !slices.Contains(out, s.Nodes[0].Addr) {
			out = append(out, s.Nodes[0].Addr)
		}
	}
	slices.Sort(out)
	return out
}

// otherThan returns the first address in addrs that is not addr, or "".
func otherThan(addrs []string, addr string) string {
	for _, a := range addrs {
		if a != addr {
			return a
		}
	}
	return ""
}

// slotOwner asks one node which master serves slot.
func slotOwner(ctx context.Context, c *redis.Client, slot int) (string, error) {
	slots, err := c.ClusterSlots(ctx).Result() //nolint:staticcheck // the slot view go-redis itself routes by
	if err != nil {
		return "", err
	}
	if owner := ownerOf(slots, slot); owner != "" {
		return owner, nil
	}
	return "", fmt.Errorf("slot %d is not served", slot)
}
