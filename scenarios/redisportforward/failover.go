package redisportforward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/nodelab/nodelab/lab/timeline"
)

// FixSurvivesFailover deletes the master of a slot while a steady writer
// writes to that slot through the remapping client, and measures the time
// from the deletion to the writer's first OK write after the outage. The
// step does not help the client: no Sync, SetRoutes or ReloadState here.
// What recovers it is the Dialer (a failed dial refreshes its table from
// the forwards), go-redis' MOVED handling and its periodic slot reload.
// Before the deletion, the master's replica is read from CLUSTER NODES;
// afterwards the slot's owner must be that replica.
func (r *Runbook) FixSurvivesFailover(ctx context.Context) error {
	cc, nat, err := r.remappedClient(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	const key = "{failover}:probe"
	if err := cc.Set(ctx, key, "before", 0).Err(); err != nil {
		return fmt.Errorf("write %s before the failover: %w", key, err)
	}
	slot64, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return err
	}
	slot := int(slot64)
	oldMaster, err := masterOf(ctx, cc, slot)
	if err != nil {
		return err
	}
	var witness string
	for _, a := range r.masterAddrs(ctx, cc) {
		if a != oldMaster {
			witness = a
			break
		}
	}
	if witness == "" {
		return errors.New("no surviving master to watch the failover from")
	}
	w := nodeClient(nat, witness)
	defer w.Close()
	nodesBefore, err := w.ClusterNodes(ctx).Result()
	if err != nil {
		return fmt.Errorf("CLUSTER NODES on %s: %w", witness, err)
	}
	nodes, err := parseNodes(nodesBefore)
	if err != nil {
		return err
	}
	replica, err := replicaOf(nodes, oldMaster)
	if err != nil {
		return fmt.Errorf("the replica of %s (owner of slot %d) per %s: %w; CLUSTER NODES:\n%s", oldMaster, slot, witness, err, nodesBefore)
	}
	oldIP, _, _ := net.SplitHostPort(oldMaster)
	var victim string
	for name, ip := range r.podIPs {
		if ip == oldIP {
			victim = name
		}
	}
	if victim == "" {
		return fmt.Errorf("no pod has the master's IP %s (pods: %v)", oldIP, r.podIPs)
	}

	// The steady writer: one SET to the slot every 100 ms, 1 s per attempt,
	// recorded as an application would have seen it.
	rec := timeline.NewRecorder(fmt.Sprintf("writes to slot %d through the remapping Dialer during a master failover", slot), "writes/s", time.Now())
	wr := &steadyWriter{rec: rec}
	wctx, stopWriter := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		wr.run(wctx, cc, "{failover}:writer")
	}()
	stop := func() {
		stopWriter()
		<-writerDone
	}
	var tl *timeline.Timeline
	defer func() {
		stop()
		if tl == nil { // failed: the timeline shows how
			tl = rec.Build(500*time.Millisecond, time.Now())
		}
		r.env.Timeline("failover", tl)
	}()
	// The steady state first: 10 OK writes.
	if err := wr.waitFor(ctx, 10*time.Second, func(s writerState) bool { return s.ok >= 10 }); err != nil {
		return fmt.Errorf("the steady writer before the failover: %w", err)
	}

	zero := int64(0)
	deleted := time.Now()
	wr.markDeleted(deleted)
	rec.Mark(deleted, "pod deleted", victim)
	if err := r.Lab.Client.CoreV1().Pods(r.Namespace).Delete(ctx, victim, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		return fmt.Errorf("delete master pod %s: %w", victim, err)
	}
	r.env.Logf("deleted master pod %s (%s), owner of slot %d; its replica %s (%s) should take over", victim, oldMaster, slot, replica.Addr, replica.ID)

	// Recovery: the first OK write after the outage began (the first failed
	// write after the deletion; an OK before it only means the old master
	// had not died yet).
	waitErr := wr.waitFor(ctx, RecoverBound, func(s writerState) bool { return !s.recoveredAt.IsZero() })
	st := wr.state()
	if waitErr != nil {
		nodesNow, _ := w.ClusterNodes(ctx).Result()
		return fmt.Errorf("the steady writer did not write slot %d again within %s of deleting master %s: %w; after the deletion: %d ok before the first failure, %d failed, last error: %s; routes: %v; CLUSTER NODES from %s:\n%s",
			slot, RecoverBound, victim, waitErr, st.okBeforeOutage, st.failedAfter, errText(st.lastErr), nat.Routes(), witness, nodesNow)
	}
	r.recovered = st.recoveredAt.Sub(deleted)
	rec.Mark(st.recoveredAt, "recovered", "first OK write after the outage")

	// The slot's new owner is the replica read before the deletion.
	var owner string
	err = wait.PollUntilContextTimeout(ctx, r.t().Poll, r.t().Network, true, func(ctx context.Context) (bool, error) {
		owner, err = slotOwner(ctx, w, slot)
		return err == nil && owner == replica.Addr, nil
	})
	if err != nil {
		nodesNow, _ := w.ClusterNodes(ctx).Result()
		return fmt.Errorf("slot %d owner per %s after the failover = %q, want the old master's replica %s within %s: %w; CLUSTER NODES:\n%s",
			slot, witness, owner, replica.Addr, r.t().Network, err, nodesNow)
	}
	if err := cc.Set(ctx, key, "after", 0).Err(); err != nil {
		return fmt.Errorf("write %s after the failover: %w", key, err)
	}
	if v, err := cc.Get(ctx, key).Result(); err != nil || v != "after" {
		return fmt.Errorf("read %s after failover = %q (error: %s); want after", key, v, errText(err))
	}
	// The recovered steady state: 20 more OK writes.
	if err := wr.waitFor(ctx, 10*time.Second, func(s writerState) bool { return s.okAfterRecovery >= 20 }); err != nil {
		return fmt.Errorf("the steady writer after recovery: %w", err)
	}
	stop()
	st = wr.state()
	tl = rec.Build(500*time.Millisecond, time.Now())
	r.env.Logf("failover: replica %s promoted; the first OK write came %s after the master pod was deleted (bound %s); steady writer: %d ok, %d failed (after the deletion: %d ok before the outage, %d failed, %d failed after recovery)",
		replica.Addr, r.recovered.Round(100*time.Millisecond), RecoverBound, st.ok, st.failed, st.okBeforeOutage, st.failedAfter, st.failedAfterRecovery)
	r.env.Measure("failover recovery", r.recovered.Round(100*time.Millisecond).String())
	return nil
}

// steadyWriter writes one key at a steady pace and keeps the outcomes
// relative to the deletion of a master.
type steadyWriter struct {
	rec *timeline.Recorder
	mu  sync.Mutex
	s   writerState
}

type writerState struct {
	ok, failed int
	deletedAt  time.Time // zero until the master pod is deleted
	// After deletedAt: OK writes before the first failure, failures, and
	// the completion of the first OK write after a failure.
	okBeforeOutage, failedAfter int
	outageAt, recoveredAt       time.Time
	// After recoveredAt.
	okAfterRecovery, failedAfterRecovery int
	lastErr                              error
}

func (w *steadyWriter) markDeleted(at time.Time) {
	w.mu.Lock()
	w.s.deletedAt = at
	w.mu.Unlock()
}

func (w *steadyWriter) state() writerState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.s
}

func (w *steadyWriter) record(at time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.s
	recovered := !s.recoveredAt.IsZero()
	after := !s.deletedAt.IsZero() && at.After(s.deletedAt)
	if err != nil {
		s.failed++
		s.lastErr = err
		w.rec.Event("failed", at)
		switch {
		case recovered:
			s.failedAfterRecovery++
		case after:
			s.failedAfter++
			if s.outageAt.IsZero() {
				s.outageAt = at
			}
		}
		return
	}
	s.ok++
	w.rec.Event("ok", at)
	switch {
	case recovered:
		s.okAfterRecovery++
	case after && s.outageAt.IsZero():
		s.okBeforeOutage++
	case after:
		s.recoveredAt = at
	}
}

// run writes until ctx ends: one SET every 100 ms, 1 s per attempt.
func (w *steadyWriter) run(ctx context.Context, cc *redis.ClusterClient, key string) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		actx, cancel := context.WithTimeout(ctx, time.Second)
		err := cc.Set(actx, key, i, 0).Err()
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.record(time.Now(), err)
	}
}

// waitFor polls the writer's state until done holds, at most timeout.
func (w *steadyWriter) waitFor(ctx context.Context, timeout time.Duration, done func(writerState) bool) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return done(w.state()), nil
	})
	if err != nil {
		s := w.state()
		return fmt.Errorf("not within %s: %w (writes: %d ok, %d failed; last error: %s)", timeout, err, s.ok, s.failed, errText(s.lastErr))
	}
	return nil
}
