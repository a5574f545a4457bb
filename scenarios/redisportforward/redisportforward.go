// Package redisportforward is the runbook of scenario `redis-port-forward`:
// redis-cluster does not work through `kubectl port-forward`, and two fixes
// that do.
//
// A cluster node answers MOVED/ASK with the address it announces, its pod
// IP. A client on the host that came in through one port-forward then dials
// that pod IP and fails (redis/go-redis#3027, bitnami/charts#29102).
//
// Steps, top to bottom:
//  1. deploy: a 6-pod redis-cluster (3 masters, 3 replicas) created by a Job
//     running `redis-cli --cluster create` on the pod IPs; ready when
//     CLUSTER INFO says cluster_state:ok, 16384 slots assigned and ok,
//     cluster_size:3, and CLUSTER NODES shows one replica per master;
//  2. pitfall: no pod IP:6379 is reachable from the host (precondition, every
//     pod dialled); with one pod forwarded, a plain client gets
//     `MOVED <slot> <podIP>:6379`, and a go-redis ClusterClient fails every
//     write to a slot of another master with a dial error (*net.OpError) to
//     one of those unreachable pod addresses;
//  3. fix 1: a client inside the cluster (a Job with redis-cli -c) writes and
//     reads 1,000 keys incluster:*, and exactly those keys are spread over
//     all three masters;
//  4. fix 2: every pod forwarded (client-go port-forward, one local port per
//     pod) and lab/instruments/redisnat's Dialer mapping podIP:6379 → 127.0.0.1:<port>:
//     the same 1,000 keys from the host, spread over all masters;
//  5. fix 2 under a slot migration: a half-migrated slot answers ASK, and the
//     client still reads every key, before and after the migration ends;
//  6. fix 2 under a failover: while a steady writer writes to a slot, its
//     master pod is deleted; the writer writes again within RecoverBound
//     (time printed), helped only by the Dialer (a failed dial refreshes its
//     table from the forwards) and go-redis itself; the slot's new owner is
//     the replica CLUSTER NODES named before the deletion;
//  7. no port-forward is left: none open, every local port refuses
//     connections, goroutines back to where they were (also checked by the
//     e2e suite after Cleanup).
//
// Host requirements: a lab (any node count); the redis image (upstream, or
// built by the forge from Debian's redis-server). Typical: ~1m50s (failover ~10s).
//
// This file is the runbook; the mechanics live next to it: cluster.go
// (deploy, readiness), clients.go and slots.go (the redis clients and slot
// views), pitfall.go, incluster.go (fix 1's script,
// fixtures/redis-port-forward/in-cluster-client.sh.tmpl), migration.go,
// failover.go and writer.go (fix 2 under a migration and a failover),
// topology.go (CLUSTER INFO/NODES parsers), timeouts.go (every duration).
package redisportforward

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/jobrun"
	"github.com/nodelab/nodelab/lab/instruments/leakcheck"
	"github.com/nodelab/nodelab/lab/instruments/portforward"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:      "redis-port-forward",
		Summary: "pitfall: redis-cluster MOVED to unreachable pod IPs through one port-forward; fixes: in-cluster client, or every pod forwarded + remapping Dialer (incl. ASK and failover)",
		Labels:  []scenarios.Label{scenarios.Slow},
		Typical: 110 * time.Second,
		Images:  []images.Image{images.Redis()},
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "deploy a 6-pod redis-cluster", Timeout: Timeouts.Deploy, Run: r.Deploy},
				{Side: scenarios.Pitfall, Name: "pitfall: through one port-forward, MOVED names pod IPs the host cannot reach", Timeout: Timeouts.Pitfall, Run: r.PitfallOneForward},
				{Side: scenarios.Fix, Name: "fix 1: an in-cluster client writes and reads 1000 keys on all three masters", Timeout: Timeouts.InCluster, Typical: 50 * time.Second, Run: r.FixInCluster},
				{Side: scenarios.Fix, Name: "fix 2: every pod forwarded and a remapping Dialer: 1000 keys from the host", Timeout: Timeouts.Fix2, Typical: 3 * time.Second, Run: r.FixForwardEveryPod},
				{Side: scenarios.Fix, Name: "fix 2 follows ASK redirects through a slot migration", Timeout: Timeouts.Fix2, Typical: time.Second, Run: r.FixSurvivesSlotMigration},
				{Side: scenarios.Fix, Name: "fix 2 recovers from a master failover within the stated bound", Timeout: Timeouts.Fix2, Typical: 13 * time.Second, Run: r.FixSurvivesFailover},
				{Side: scenarios.Check, Name: "leaves no port-forward and no local port behind", Timeout: Timeouts.NoForwardsLeft, Typical: 16 * time.Second, Run: r.NoForwardsLeft},
			},
			Cleanup: scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
			LeakChecks: []scenarios.Step{
				{Side: scenarios.Check, Name: "no port-forward, local port or extra goroutine after cleanup", Timeout: Timeouts.LeakCheck, Run: r.CheckNoLeaks},
			},
		}
	},
}

const (
	// Keys is the workload of both fixes.
	Keys = 1000
	// LeakAllowance is how many more goroutines than before the first
	// forward CheckNoLeaks accepts (the API client's own connections).
	LeakAllowance = 10
	redisPort     = 6379
	selector      = "app=redis"
)

// Runbook holds the state of one run.
type Runbook struct {
	env scenarios.Env
	Lab *lab.Lab
	// Addons builds and loads the redis image on a forge lab.
	Addons    addon.Options
	Namespace string

	podIPs map[string]string // pod name → IP at deploy time
	// goroutines is the process's goroutine count before any forward.
	goroutines leakcheck.Baseline
	forward    *portforward.Set
	// localAddrs is every local address this run forwarded, for CheckNoLeaks.
	localAddrs []string
	// recovered is the measured failover recovery time.
	recovered time.Duration
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook {
	return &Runbook{env: env, Lab: env.Lab, Addons: env.Addons}
}

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// Deploy creates the namespace, the redis pods and the cluster.
func (r *Runbook) Deploy(ctx context.Context) error {
	r.goroutines = leakcheck.Take()
	img := images.Redis()
	if err := addon.EnsureImages(ctx, r.Lab, r.Addons, img); err != nil {
		return err
	}
	ns, err := r.Lab.CreateNamespace(ctx, "nodelab-redis")
	if err != nil {
		return err
	}
	r.Namespace = ns
	ref := img.Ref(addon.Source(r.Lab))
	if err := r.createPods(ctx, ref); err != nil {
		return err
	}
	pods, err := r.waitRedisPods(ctx, 6)
	if err != nil {
		return err
	}
	if err := r.createCluster(ctx, ref, pods); err != nil {
		return err
	}
	return r.waitClusterOK(ctx)
}

// PitfallOneForward reproduces the failure users see.
func (r *Runbook) PitfallOneForward(ctx context.Context) error {
	// Precondition: the host reaches no pod IP.
	unreachable, err := r.unreachablePodAddrs(ctx)
	if err != nil {
		return err
	}
	c, fw, err := r.plainClient(ctx, "redis-0")
	if err != nil {
		return err
	}
	defer fw.Close()
	defer c.Close()
	// A plain client: a key another master owns answers MOVED <slot> <podIP>:6379.
	moved := firstMoved(ctx, c, movedTries)
	if moved == "" {
		return fmt.Errorf("%d SETs through the forward of redis-0 never answered MOVED: is this a cluster with 3 masters?", movedTries)
	}
	if !r.namesPodIP(moved) {
		return fmt.Errorf("MOVED reply %q names no pod IP (pod IPs: %v)", moved, r.podIPs)
	}
	r.env.Logf("plain client through one forward: %s", moved)

	// A cluster client seeded with the forward: every write to a slot of
	// another master fails with a dial error to an unreachable pod IP:6379.
	w, err := r.writeThroughOneForward(ctx, c, fw.Addr(), unreachable)
	if err != nil {
		return err
	}
	switch {
	case w.others == 0:
		return fmt.Errorf("none of %d keys hashes to a slot of another master than redis-0 (%s) per its CLUSTER SLOTS: cannot show the pitfall", pitfallWrites, w.self)
	case len(w.wrote) > 0:
		return fmt.Errorf("the ClusterClient through the one forward of redis-0 wrote to other masters: %s; the pitfall did not reproduce (%s)", strings.Join(w.wrote, ", "), w.counts())
	case w.wrongErr != nil:
		return fmt.Errorf("%s, but not all the way users see it: %w", w.counts(), w.wrongErr)
	}
	r.env.Logf("ClusterClient through one forward: %s, each with a dial error to an unreachable pod address (writes per address: %v); for example: %v",
		w.counts(), w.dialed, w.example)
	return nil
}

// FixInCluster runs the workload from a Job inside the namespace.
func (r *Runbook) FixInCluster(ctx context.Context) error {
	ref := images.Redis().Ref(addon.Source(r.Lab))
	script, err := inClusterScript("redis-0.redis." + r.Namespace + ".svc.cluster.local")
	if err != nil {
		return err
	}
	res, err := jobrun.Run(ctx, r.Lab.Client, r.job("in-cluster-client", ref, []string{"sh", "-c", script}))
	if err != nil {
		return err
	}
	out := res.Log
	if !strings.Contains(out, fmt.Sprintf("read-ok=%d read-bad=0", Keys)) {
		return fmt.Errorf("in-cluster client did not read back %d keys; its log:\n%s", Keys, out)
	}
	perMaster := inClusterKeysPerMaster(out)
	total, masters := spread(perMaster)
	if len(perMaster) != 3 || masters != 3 || total != Keys {
		return fmt.Errorf("incluster:* keys per master %v: %d keys on %d of %d masters, want %d on 3 of 3; the Job's log:\n%s",
			perMaster, total, masters, len(perMaster), Keys, out)
	}
	r.env.Logf("in-cluster client: %d keys written and read back, incluster:* keys per master %v", Keys, perMaster)
	return nil
}

// FixForwardEveryPod writes and reads Keys keys from the host.
func (r *Runbook) FixForwardEveryPod(ctx context.Context) error {
	cc, nat, err := r.remappedClient(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	for i := 0; i < Keys; i++ {
		if err := cc.Set(ctx, fmt.Sprintf("forwarded:%d", i), fmt.Sprintf("v%d", i), 0).Err(); err != nil {
			return fmt.Errorf("write forwarded:%d through the remapping Dialer: %w (routes: %v)", i, err, nat.Routes())
		}
	}
	if err := readAll(ctx, cc, Keys, func(i int) string { return fmt.Sprintf("forwarded:%d", i) }, "v"); err != nil {
		return err
	}
	perMaster, err := keysPerMaster(ctx, cc, "forwarded:*")
	if err != nil {
		return err
	}
	if total, masters := spread(perMaster); total != Keys || masters != 3 {
		return fmt.Errorf("forwarded keys per master %v: total %d on %d masters, want %d on 3", perMaster, total, masters, Keys)
	}
	r.env.Logf("every pod forwarded (%d forwards): %d keys written and read back from the host, per master %v", len(nat.Routes()), Keys, perMaster)
	return nil
}

// FixSurvivesSlotMigration half-migrates a slot (so the source answers ASK
// for moved keys), reads every key through the remapping client, finishes
// the migration, and reads them again.
func (r *Runbook) FixSurvivesSlotMigration(ctx context.Context) error {
	cc, nat, err := r.remappedClient(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	const n = 40
	key := func(i int) string { return fmt.Sprintf("{migrate}:%d", i) }
	if err := writeAll(ctx, cc, n, key, "m"); err != nil {
		return err
	}
	slot64, err := cc.ClusterKeySlot(ctx, key(0)).Result()
	if err != nil {
		return err
	}
	m, err := r.startMigration(ctx, cc, nat, int(slot64))
	if err != nil {
		return err
	}
	defer m.Close()
	var first []string
	for i := 0; i < n/2; i++ {
		first = append(first, key(i))
	}
	if err := m.move(ctx, first); err != nil {
		return fmt.Errorf("MIGRATE %d keys of slot %d from %s to %s: %w", len(first), m.slot, m.srcAddr, m.dstAddr, err)
	}
	// The source now answers ASK for a moved key.
	askErr := m.src.Get(ctx, key(0)).Err()
	if askErr == nil || !strings.HasPrefix(askErr.Error(), "ASK ") || !strings.Contains(askErr.Error(), m.dstAddr) {
		return fmt.Errorf("GET %s on the migrating source %s = %s, want ASK %d %s", key(0), m.srcAddr, errText(askErr), m.slot, m.dstAddr)
	}
	r.env.Logf("slot %d half-migrated %s → %s; the source answers: %v", m.slot, m.srcAddr, m.dstAddr, askErr)
	if err := readAll(ctx, cc, n, key, "m"); err != nil {
		return fmt.Errorf("during the migration (ASK): %w", err)
	}
	if err := m.drain(ctx); err != nil {
		return err
	}
	if err := m.assign(ctx, r.masterAddrs(ctx, cc)); err != nil {
		return err
	}
	if err := readAll(ctx, cc, n, key, "m"); err != nil {
		return fmt.Errorf("after the migration (MOVED): %w", err)
	}
	if owner, err := masterOf(ctx, cc, m.slot); err != nil || owner != m.dstAddr {
		return fmt.Errorf("slot %d owner after migration = %s (error: %s); want %s", m.slot, owner, errText(err), m.dstAddr)
	}
	r.env.Logf("slot %d migrated; %d keys read through ASK and after the move", m.slot, n)
	return nil
}

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
	f, err := r.failoverTarget(ctx, cc, nat, int(slot64))
	if err != nil {
		return err
	}
	defer f.w.Close()

	// The steady writer, recorded as an application would have seen it;
	// if the step fails, the timeline shows how.
	wr := startSteadyWriter(ctx, cc, "{failover}:writer", fmt.Sprintf("writes to slot %d through the remapping Dialer during a master failover", f.slot))
	defer func() { r.env.Timeline("failover", wr.finish()) }()
	if err := wr.waitFor(ctx, "10 OK writes", r.env.Scaled(Timeouts.SteadyWrites), func(s writerState) bool { return s.ok >= 10 }); err != nil {
		return fmt.Errorf("the steady writer before the failover: %w", err)
	}
	deleted, err := r.deleteMaster(ctx, wr, f)
	if err != nil {
		return err
	}
	// Recovery: the first OK write after the outage began (the first failed
	// write after the deletion; an OK before it only means the old master
	// had not died yet), within RecoverBound.
	recovered, err := r.waitRecovery(ctx, wr, f, nat, deleted)
	if err != nil {
		return err
	}
	r.recovered = recovered

	// The slot's new owner is the replica read before the deletion.
	if err := r.waitSlotOwner(ctx, f); err != nil {
		return err
	}
	if err := cc.Set(ctx, key, "after", 0).Err(); err != nil {
		return fmt.Errorf("write %s after the failover: %w", key, err)
	}
	if v, err := cc.Get(ctx, key).Result(); err != nil || v != "after" {
		return fmt.Errorf("read %s after failover = %q (error: %s); want after", key, v, errText(err))
	}
	// The recovered steady state: 20 more OK writes.
	if err := wr.waitFor(ctx, "20 OK writes after recovery", r.env.Scaled(Timeouts.SteadyWrites), func(s writerState) bool { return s.okAfterRecovery >= 20 }); err != nil {
		return fmt.Errorf("the steady writer after recovery: %w", err)
	}
	wr.finish()
	st := wr.state()
	r.env.Logf("failover: replica %s promoted; the first OK write came %s after the master pod was deleted (bound %s); steady writer: %d ok, %d failed (after the deletion: %d ok before the outage, %d failed, %d failed after recovery)",
		f.replica.Addr, r.recovered.Round(displayRound), RecoverBound, st.ok, st.failed, st.okBeforeOutage, st.failedAfter, st.failedAfterRecovery)
	r.env.Measure("failover recovery", r.recovered.Round(displayRound).String())
	return nil
}

// NoForwardsLeft closes every forward and proves nothing is left.
func (r *Runbook) NoForwardsLeft(ctx context.Context) error {
	r.closeForwards()
	return r.CheckNoLeaks(ctx)
}

// CheckNoLeaks proves that no port-forward of this process is open, that
// none of the local ports this run forwarded accepts connections, and that
// the goroutine count is back within LeakAllowance of what it was before the
// first forward. It holds after Cleanup too (the e2e suite checks it there).
func (r *Runbook) CheckNoLeaks(ctx context.Context) error {
	if n := portforward.Open(); n != 0 {
		return fmt.Errorf("%d port-forwards still open after closing them all", n)
	}
	if open := leakcheck.StillAccepting(ctx, probeDial, r.localAddrs...); len(open) > 0 {
		return fmt.Errorf("local port %s still accepts connections after its forward was closed", strings.Join(open, ", "))
	}
	if !r.goroutines.Taken() {
		return errors.New("no goroutine count from before the first forward (did Deploy run?)")
	}
	now, err := r.goroutines.Settle(ctx, LeakAllowance, wait.Within{Timeout: r.env.Scaled(Timeouts.GoroutinesSettle), Poll: Timeouts.GoroutinePoll})
	if err != nil {
		return fmt.Errorf("goroutines: %d now, %d before the first forward (allowance %d): something did not stop: %w; goroutines by stack:\n%s",
			now, r.goroutines.Goroutines, LeakAllowance, err, leakcheck.Stacks(8<<10))
	}
	r.env.Logf("no leak: 0 port-forwards open; none of %d local ports accepts connections; goroutines %d (before: %d, allowance %d)",
		len(r.localAddrs), now, r.goroutines.Goroutines, LeakAllowance)
	return nil
}

// Cleanup closes forwards and deletes the namespace.
func (r *Runbook) Cleanup(ctx context.Context) error {
	r.closeForwards()
	if r.Namespace == "" {
		return nil
	}
	return r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup)
}
