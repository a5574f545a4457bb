package redisportforward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/instruments/redisnat"
	"github.com/nodelab/nodelab/lab/wait"
)

// failoverTarget is the master the failover step deletes, and who watches.
type failoverTarget struct {
	slot      int
	oldMaster string // announced address of the slot's master
	victim    string // its pod
	// witness is another master, and w a node client on it: the failover
	// is watched from outside the failure.
	witness string
	w       *redis.Client
	// replica is the old master's replica per CLUSTER NODES before the
	// deletion: the slot's owner after the failover.
	replica node
}

// failoverTarget finds the master of slot, its pod, a witness master and
// the replica that should take over. Close the result's w.
func (r *Runbook) failoverTarget(ctx context.Context, cc *redis.ClusterClient, nat *redisnat.Dialer, slot int) (*failoverTarget, error) {
	oldMaster, err := masterOf(ctx, cc, slot)
	if err != nil {
		return nil, err
	}
	f := &failoverTarget{slot: slot, oldMaster: oldMaster, witness: otherThan(r.masterAddrs(ctx, cc), oldMaster)}
	if f.witness == "" {
		return nil, errors.New("no surviving master to watch the failover from")
	}
	f.w = nodeClient(nat, f.witness)
	if err := r.readFailoverRoles(ctx, f); err != nil {
		f.w.Close()
		return nil, err
	}
	return f, nil
}

// readFailoverRoles reads the old master's replica from the witness's
// CLUSTER NODES, and the pod that has the old master's IP.
func (r *Runbook) readFailoverRoles(ctx context.Context, f *failoverTarget) error {
	nodesBefore, err := f.w.ClusterNodes(ctx).Result()
	if err != nil {
		return fmt.Errorf("CLUSTER NODES on %s: %w", f.witness, err)
	}
	nodes, err := parseNodes(nodesBefore)
	if err != nil {
		return err
	}
	if f.replica, err = replicaOf(nodes, f.oldMaster); err != nil {
		return fmt.Errorf("the replica of %s (owner of slot %d) per %s: %w; CLUSTER NODES:\n%s", f.oldMaster, f.slot, f.witness, err, nodesBefore)
	}
	oldIP, _, _ := net.SplitHostPort(f.oldMaster)
	for name, ip := range r.podIPs {
		if ip == oldIP {
			f.victim = name
		}
	}
	if f.victim == "" {
		return fmt.Errorf("no pod has the master's IP %s (pods: %v)", oldIP, r.podIPs)
	}
	return nil
}

// deleteMaster deletes the old master's pod at once (grace period 0),
// marking the moment on the writer and its timeline, and returns it.
func (r *Runbook) deleteMaster(ctx context.Context, wr *steadyWriter, f *failoverTarget) (time.Time, error) {
	zero := int64(0)
	deleted := time.Now()
	wr.markDeleted(deleted)
	wr.rec.Mark(deleted, "pod deleted", f.victim)
	if err := r.Lab.Client.CoreV1().Pods(r.Namespace).Delete(ctx, f.victim, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		return deleted, fmt.Errorf("delete master pod %s: %w", f.victim, err)
	}
	r.env.Logf("deleted master pod %s (%s), owner of slot %d; its replica %s (%s) should take over", f.victim, f.oldMaster, f.slot, f.replica.Addr, f.replica.ID)
	return deleted, nil
}

// waitSlotOwner waits until the witness names the replica as the slot's
// owner.
func (r *Runbook) waitSlotOwner(ctx context.Context, f *failoverTarget) error {
	var owner string
	within := wait.Within{
		What:    fmt.Sprintf("slot %d owned by the old master's replica %s per %s", f.slot, f.replica.Addr, f.witness),
		Timeout: r.t().Network, Poll: r.t().Poll,
	}
	err := wait.Until(ctx, within, func(g gomega.Gomega) {
		var err error
		owner, err = slotOwner(ctx, f.w, f.slot)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "slot %d owner per %s", f.slot, f.witness)
		g.Expect(owner).To(gomega.Equal(f.replica.Addr), "slot %d owner per %s", f.slot, f.witness)
	})
	if err != nil {
		nodesNow, _ := f.w.ClusterNodes(ctx).Result()
		return fmt.Errorf("slot %d owner per %s after the failover = %q, want the old master's replica %s within %s: %w; CLUSTER NODES:\n%s",
			f.slot, f.witness, owner, f.replica.Addr, r.t().Network, err, nodesNow)
	}
	return nil
}

// waitRecovery waits at most RecoverBound for the steady writer's first OK
// write after the outage, marks it on the timeline and returns how long
// after the deletion it came.
func (r *Runbook) waitRecovery(ctx context.Context, wr *steadyWriter, f *failoverTarget, nat *redisnat.Dialer, deleted time.Time) (time.Duration, error) {
	waitErr := wr.waitFor(ctx, "the first OK write after the outage", RecoverBound, func(s writerState) bool { return !s.recoveredAt.IsZero() })
	st := wr.state()
	if waitErr != nil {
		nodesNow, _ := f.w.ClusterNodes(ctx).Result()
		return 0, fmt.Errorf("the steady writer did not write slot %d again within %s of deleting master %s: %w; after the deletion: %d ok before the first failure, %d failed, last error: %s; routes: %v; CLUSTER NODES from %s:\n%s",
			f.slot, RecoverBound, f.victim, waitErr, st.okBeforeOutage, st.failedAfter, errText(st.lastErr), nat.Routes(), f.witness, nodesNow)
	}
	wr.rec.Mark(st.recoveredAt, "recovered", "first OK write after the outage")
	return st.recoveredAt.Sub(deleted), nil
}
