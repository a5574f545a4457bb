package redisportforward

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/nodelab/nodelab/lab/instruments/redisnat"
)

// slotMigration moves one slot from its master to another by hand, the way
// `redis-cli --cluster reshard` does: IMPORTING on the destination,
// MIGRATING on the source, MIGRATE the keys, then SETSLOT NODE everywhere.
type slotMigration struct {
	slot             int
	srcAddr, dstAddr string // announced addresses
	src, dst         *redis.Client
	dstID            string
	dstHost, dstPort string
	nat              *redisnat.Dialer
}

// startMigration picks another master as the destination of slot and
// marks the slot IMPORTING there and MIGRATING on its master. Close the
// result.
func (r *Runbook) startMigration(ctx context.Context, cc *redis.ClusterClient, nat *redisnat.Dialer, slot int) (*slotMigration, error) {
	srcAddr, err := masterOf(ctx, cc, slot)
	if err != nil {
		return nil, err
	}
	dstAddr := otherThan(r.masterAddrs(ctx, cc), srcAddr)
	if dstAddr == "" {
		return nil, errors.New("no second master to migrate to")
	}
	m := &slotMigration{slot: slot, srcAddr: srcAddr, dstAddr: dstAddr, src: nodeClient(nat, srcAddr), dst: nodeClient(nat, dstAddr), nat: nat}
	m.dstHost, m.dstPort, _ = net.SplitHostPort(dstAddr)
	if err := m.mark(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// mark sets the slot IMPORTING on the destination and MIGRATING on the source.
func (m *slotMigration) mark(ctx context.Context) error {
	srcID, err := m.src.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return err
	}
	if m.dstID, err = m.dst.Do(ctx, "CLUSTER", "MYID").Text(); err != nil {
		return err
	}
	if err := m.dst.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "IMPORTING", srcID).Err(); err != nil {
		return fmt.Errorf("SETSLOT %d IMPORTING on %s: %w", m.slot, m.dstAddr, err)
	}
	if err := m.src.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "MIGRATING", m.dstID).Err(); err != nil {
		return fmt.Errorf("SETSLOT %d MIGRATING on %s: %w", m.slot, m.srcAddr, err)
	}
	return nil
}

// Close closes the node clients.
func (m *slotMigration) Close() {
	m.src.Close()
	m.dst.Close()
}

// move MIGRATEs keys from the source to the destination.
func (m *slotMigration) move(ctx context.Context, keys []string) error {
	args := []any{"MIGRATE", m.dstHost, m.dstPort, "", 0, migrateTimeout.Milliseconds(), "KEYS"}
	for _, k := range keys {
		args = append(args, k)
	}
	return m.src.Do(ctx, args...).Err()
}

// drain moves every key left in the slot, ours and any other key that
// hashes there (earlier steps wrote thousands of keys).
func (m *slotMigration) drain(ctx context.Context) error {
	for {
		left, err := m.src.ClusterGetKeysInSlot(ctx, m.slot, 100).Result()
		if err != nil {
			return fmt.Errorf("CLUSTER GETKEYSINSLOT %d on %s: %w", m.slot, m.srcAddr, err)
		}
		if len(left) == 0 {
			break
		}
		if err := m.move(ctx, left); err != nil {
			return fmt.Errorf("MIGRATE %d more keys of slot %d: %w", len(left), m.slot, err)
		}
	}
	return nil
}

// assign tells every master that the destination owns the slot.
func (m *slotMigration) assign(ctx context.Context, masters []string) error {
	for _, a := range masters {
		c := nodeClient(m.nat, a)
		err := c.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "NODE", m.dstID).Err()
		c.Close()
		if err != nil {
			return fmt.Errorf("SETSLOT %d NODE on %s: %w", m.slot, a, err)
		}
	}
	return nil
}
