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
//     cluster_state:ok and all 16384 slots are assigned;
//  2. pitfall: pod IPs are not reachable from the host (precondition); with
//     one pod forwarded, a plain client gets `MOVED <slot> <podIP>:6379` and
//     a go-redis ClusterClient fails to write keys across all slots with an
//     error naming an unreachable pod IP;
//  3. fix 1: a client inside the cluster (a Job with redis-cli -c) writes and
//     reads 1,000 keys, and they land on all three masters;
//  4. fix 2: every pod forwarded (client-go port-forward, one local port per
//     pod) and lab/redisnat's Dialer mapping podIP:6379 → 127.0.0.1:<port>:
//     the same 1,000 keys from the host, spread over all masters;
//  5. fix 2 under a slot migration: a half-migrated slot answers ASK, and the
//     client still reads every key, before and after the migration ends;
//  6. fix 2 under a failover: a master pod is deleted, its replica promoted,
//     and the client writes again within RecoverBound (time printed);
//  7. no port-forward is left: every local port refuses connections.
//
// Host requirements: a lab (any node count); the redis image (upstream, or
// built by the forge from Debian's redis-server). Typical: ~1m50s (failover ~10s).
package redisportforward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/nodelab/nodelab/fixtures"
	nodelab "github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/portforward"
	"github.com/nodelab/nodelab/lab/redisnat"
	"github.com/nodelab/nodelab/lab/timeline"
	"github.com/nodelab/nodelab/scenarios"
)

// Info describes the scenario.
var Info = scenarios.Info{
	ID:      "redis-port-forward",
	Summary: "pitfall: redis-cluster MOVED to unreachable pod IPs through one port-forward; fixes: in-cluster client, or every pod forwarded + remapping Dialer (incl. ASK and failover)",
	Labels:  []string{"slow"},
	Typical: 110 * time.Second,
}

const (
	// Keys is the workload of both fixes.
	Keys = 1000
	// RecoverBound is how long the remapping client may take to write again
	// after a master pod is deleted: cluster-node-timeout (5s) plus the
	// replica's election and the client's slot reload, with margin.
	RecoverBound = 45 * time.Second
	redisPort    = 6379
	selector     = "app=redis"
)

// Runbook holds the state of one run.
type Runbook struct {
	Lab *nodelab.Lab
	// Addons builds and loads the redis image on a forge lab.
	Addons    addon.Options
	Namespace string
	// Log receives what a human would want to read (MOVED lines, timings).
	Log func(format string, args ...any)

	podIPs map[string]string // pod name → IP at deploy time
	// goroutines is the process's goroutine count before any forward.
	goroutines int
	forward    *portforward.Set
	// Recovered is the measured failover recovery time.
	Recovered time.Duration
	// FailoverTimeline is the write outcomes per second around the failover.
	FailoverTimeline *timeline.Timeline
}

// New returns a runbook for a lab.
func New(l *nodelab.Lab, opts addon.Options) *Runbook {
	return &Runbook{Lab: l, Addons: opts, Log: func(string, ...any) {}}
}

func init() {
	scenarios.Register(scenarios.Scenario{Info: Info, Steps: func(l *nodelab.Lab) ([]scenarios.Step, func(context.Context) error) {
		r := New(l, scenarios.Addons)
		return []scenarios.Step{
			{Name: "deploy a 6-pod redis-cluster", Run: r.Deploy},
			{Name: "pitfall: one port-forward, MOVED to unreachable pod IPs", Run: r.PitfallOneForward},
			{Name: "fix 1: in-cluster client writes and reads 1000 keys", Run: r.FixInCluster},
			{Name: "fix 2: every pod forwarded + remapping Dialer", Run: r.FixForwardEveryPod},
			{Name: "fix 2: slot migration (ASK)", Run: r.FixSurvivesSlotMigration},
			{Name: "fix 2: failover", Run: r.FixSurvivesFailover},
			{Name: "no port-forward left", Run: r.NoForwardsLeft},
		}, r.Cleanup
	}})
}

func (r *Runbook) t() scenarios.Timeouts { return scenarios.T() }

// Deploy creates the namespace, the redis pods and the cluster.
func (r *Runbook) Deploy(ctx context.Context) error {
	r.goroutines = runtime.NumGoroutine()
	img := images.Redis()
	if err := addon.EnsureImages(ctx, r.Lab, r.Addons, img); err != nil {
		return err
	}
	ns, err := r.Lab.CreateNamespace(ctx, "nodelab-redis")
	if err != nil {
		return err
	}
	r.Namespace = ns
	objs, err := manifest.Decode(fixtures.FS, "redis-port-forward/redis-cluster.yaml")
	if err != nil {
		return err
	}
	ap, err := manifest.NewApplier(r.Lab.Config)
	if err != nil {
		return err
	}
	ref := img.Ref(addon.Source(r.Lab))
	if err := ap.Create(ctx, objs, manifest.InNamespace(ns), withImage(ref)); err != nil {
		return err
	}
	pods, err := r.waitRedisPods(ctx, 6)
	if err != nil {
		return err
	}
	r.podIPs = map[string]string{}
	var addrs []string
	for _, p := range pods {
		r.podIPs[p.Name] = p.Status.PodIP
		addrs = append(addrs, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(redisPort)))
	}
	slices.Sort(addrs)
	create := append([]string{"redis-cli", "--cluster", "create"}, addrs...)
	create = append(create, "--cluster-replicas", "1", "--cluster-yes")
	if _, err := r.runJob(ctx, "redis-cluster-create", ref, create); err != nil {
		return err
	}
	return r.waitClusterOK(ctx)
}

// withImage sets the image of every container of pod templates.
func withImage(ref string) manifest.Mutation {
	return func(u *unstructured.Unstructured) {
		cs, found, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		if !found {
			return
		}
		for i := range cs {
			if c, ok := cs[i].(map[string]any); ok {
				c["image"] = ref
			}
		}
		_ = unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
	}
}

// waitRedisPods waits for n Ready redis pods and returns them.
func (r *Runbook) waitRedisPods(ctx context.Context, n int) ([]corev1.Pod, error) {
	var ready []corev1.Pod
	var seen string
	err := wait.PollUntilContextTimeout(ctx, r.t().Poll, r.t().PodStart, true, func(ctx context.Context) (bool, error) {
		pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			seen = err.Error()
			return false, nil
		}
		ready = ready[:0]
		var states []string
		for _, p := range pods.Items {
			ok := p.DeletionTimestamp == nil && podReady(&p)
			states = append(states, fmt.Sprintf("%s %s ready=%v", p.Name, p.Status.Phase, ok))
			if ok {
				ready = append(ready, p)
			}
		}
		seen = strings.Join(states, "; ")
		return len(ready) >= n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%d Ready redis pods within %s: %w; last seen: %s", n, r.t().PodStart, err, seen)
	}
	return ready, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// runJob runs a one-container Job with the redis image and returns its log.
func (r *Runbook) runJob(ctx context.Context, name, image string, command []string) (string, error) {
	backoff := int32(0)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "nodelab"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job": name}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "client", Image: image, ImagePullPolicy: corev1.PullIfNotPresent, Command: command,
					}},
				},
			},
		},
	}
	if _, err := r.Lab.Client.BatchV1().Jobs(r.Namespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("create Job %s: %w", name, err)
	}
	var state string
	err := wait.PollUntilContextTimeout(ctx, r.t().Poll, r.t().PodStart, true, func(ctx context.Context) (bool, error) {
		j, err := r.Lab.Client.BatchV1().Jobs(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			state = err.Error()
			return false, nil
		}
		state = fmt.Sprintf("succeeded=%d failed=%d active=%d", j.Status.Succeeded, j.Status.Failed, j.Status.Active)
		if j.Status.Failed > 0 {
			return false, errors.New("the Job failed")
		}
		return j.Status.Succeeded > 0, nil
	})
	log := r.jobLog(ctx, name)
	if err != nil {
		return log, fmt.Errorf("job %s within %s: %w (%s); its log:\n%s", name, r.t().PodStart, err, state, log)
	}
	return log, nil
}

func (r *Runbook) jobLog(ctx context.Context, name string) string {
	pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "job=" + name})
	if err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("(no pod log: %v)", err)
	}
	limit := int64(64 * 1024)
	b, err := r.Lab.Client.CoreV1().Pods(r.Namespace).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{LimitBytes: &limit}).DoRaw(ctx)
	if err != nil {
		return fmt.Sprintf("(no pod log: %v)", err)
	}
	return string(b)
}

// plainClient forwards one pod and returns a single-node client on it.
func (r *Runbook) plainClient(ctx context.Context, pod string) (*redis.Client, *portforward.Forward, error) {
	fw, err := portforward.Start(ctx, r.Lab.Config, r.Namespace, pod, redisPort)
	if err != nil {
		return nil, nil, err
	}
	c := redis.NewClient(&redis.Options{Addr: fw.Addr(), DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, MaxRetries: -1, DisableIdentity: true})
	return c, fw, nil
}

// waitClusterOK waits until redis-0 reports cluster_state:ok, 16384 slots
// assigned and 6 known nodes.
func (r *Runbook) waitClusterOK(ctx context.Context) error {
	c, fw, err := r.plainClient(ctx, "redis-0")
	if err != nil {
		return err
	}
	defer fw.Close()
	defer c.Close()
	var info string
	err = wait.PollUntilContextTimeout(ctx, r.t().Poll, r.t().Network, true, func(ctx context.Context) (bool, error) {
		s, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			info = err.Error()
			return false, nil
		}
		info = s
		return strings.Contains(s, "cluster_state:ok") && strings.Contains(s, "cluster_slots_assigned:16384") &&
			strings.Contains(s, "cluster_known_nodes:6"), nil
	})
	if err != nil {
		return fmt.Errorf("cluster_state:ok with 16384 slots and 6 nodes within %s: %w; CLUSTER INFO: %s", r.t().Network, err, info)
	}
	return nil
}

// PitfallOneForward reproduces the failure users see.
func (r *Runbook) PitfallOneForward(ctx context.Context) error {
	// Precondition: the host cannot reach pod IPs.
	ip := r.podIPs["redis-1"]
	d := net.Dialer{Timeout: 2 * time.Second}
	if conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(redisPort))); err == nil {
		conn.Close()
		return fmt.Errorf("precondition: pod IP %s is reachable from the host, so the pitfall cannot happen here", ip)
	} else {
		r.Log("precondition: dial %s:%d from the host: %v", ip, redisPort, err)
	}

	c, fw, err := r.plainClient(ctx, "redis-0")
	if err != nil {
		return err
	}
	defer fw.Close()
	defer c.Close()
	// A plain client: a key another master owns answers MOVED <slot> <podIP>:6379.
	var moved string
	for i := 0; i < 100 && moved == ""; i++ {
		err := c.Set(ctx, fmt.Sprintf("pitfall:%d", i), i, 0).Err()
		if err != nil && strings.HasPrefix(err.Error(), "MOVED ") {
			moved = err.Error()
		}
	}
	if moved == "" {
		return errors.New("100 SETs through the forward of redis-0 never answered MOVED: is this a cluster with 3 masters?")
	}
	if !r.namesPodIP(moved) {
		return fmt.Errorf("MOVED reply %q names no pod IP (pod IPs: %v)", moved, r.podIPs)
	}
	r.Log("plain client through one forward: %s", moved)

	// A cluster client seeded with the forward learns pod IPs from CLUSTER SLOTS.
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{fw.Addr()}, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second,
		MaxRedirects: 3, MaxRetries: -1, DisableIdentity: true,
	})
	defer cc.Close()
	var firstErr error
	failed := 0
	for i := 0; i < 30; i++ {
		if err := cc.Set(ctx, fmt.Sprintf("pitfall:cc:%d", i), i, 0).Err(); err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if firstErr == nil {
		return errors.New("a ClusterClient through one port-forward wrote 30 keys across slots without error: the pitfall did not reproduce")
	}
	if !r.namesPodIP(firstErr.Error()) {
		return fmt.Errorf("ClusterClient failed (%d of 30 writes), but its error names no pod IP: %w", failed, firstErr)
	}
	r.Log("ClusterClient through one forward: %d of 30 writes failed; first error: %v", failed, firstErr)
	return nil
}

func (r *Runbook) namesPodIP(s string) bool {
	for _, ip := range r.podIPs {
		if strings.Contains(s, ip+":") {
			return true
		}
	}
	return false
}

// inClusterScript writes and reads Keys keys with redis-cli -c and prints
// the counts and the per-master key counts.
func inClusterScript(host string) string {
	return fmt.Sprintf(`set -e
h=%[1]s
ok=0; bad=0
i=0
while [ $i -lt %[2]d ]; do redis-cli -c -h $h SET incluster:$i v$i >/dev/null; i=$((i+1)); done
i=0
while [ $i -lt %[2]d ]; do
  v=$(redis-cli -c -h $h GET incluster:$i)
  if [ "$v" = "v$i" ]; then ok=$((ok+1)); else bad=$((bad+1)); fi
  i=$((i+1))
done
echo "read-ok=$ok read-bad=$bad"
redis-cli --cluster info $h:6379
`, host, Keys)
}

// FixInCluster runs the workload from a Job inside the namespace.
func (r *Runbook) FixInCluster(ctx context.Context) error {
	ref := images.Redis().Ref(addon.Source(r.Lab))
	host := "redis-0.redis." + r.Namespace + ".svc.cluster.local"
	out, err := r.runJob(ctx, "in-cluster-client", ref, []string{"sh", "-c", inClusterScript(host)})
	if err != nil {
		return err
	}
	if !strings.Contains(out, fmt.Sprintf("read-ok=%d read-bad=0", Keys)) {
		return fmt.Errorf("in-cluster client did not read back %d keys; its log:\n%s", Keys, out)
	}
	masters := mastersWithKeys(out)
	if masters < 3 {
		return fmt.Errorf("in-cluster keys landed on %d masters, want 3; redis-cli --cluster info:\n%s", masters, out)
	}
	r.Log("in-cluster client: %d keys written and read back, on %d masters", Keys, masters)
	return nil
}

// mastersWithKeys counts `redis-cli --cluster info` lines "… -> N keys | …" with N > 0.
func mastersWithKeys(info string) int {
	n := 0
	for _, line := range strings.Split(info, "\n") {
		_, rest, ok := strings.Cut(line, "-> ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) >= 2 && f[1] == "keys" {
			if k, err := strconv.Atoi(f[0]); err == nil && k > 0 {
				n++
			}
		}
	}
	return n
}

// remappedClient is fix 2's client: every pod forwarded, addresses remapped.
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
		Addrs: []string{seed}, Dialer: nat.Dial, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second,
		MaxRedirects: 8, DisableIdentity: true,
	})
	return cc, nat, nil
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
	for i := 0; i < Keys; i++ {
		v, err := cc.Get(ctx, fmt.Sprintf("forwarded:%d", i)).Result()
		if err != nil || v != fmt.Sprintf("v%d", i) {
			return fmt.Errorf("read forwarded:%d = %q (error: %s); want v%d", i, v, errText(err), i)
		}
	}
	perMaster, err := keysPerMaster(ctx, cc, "forwarded:*")
	if err != nil {
		return err
	}
	total, masters := 0, 0
	for _, n := range perMaster {
		total += n
		if n > 0 {
			masters++
		}
	}
	if total != Keys || masters != 3 {
		return fmt.Errorf("forwarded keys per master %v: total %d on %d masters, want %d on 3", perMaster, total, masters, Keys)
	}
	r.Log("every pod forwarded (%d forwards): %d keys written and read back from the host, per master %v", len(nat.Routes()), Keys, perMaster)
	return nil
}

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

// slotOwners maps each slot range's first slot to its master's announced address.
func masterOf(ctx context.Context, cc *redis.ClusterClient, slot int) (string, error) {
	slots, err := cc.ClusterSlots(ctx).Result() //nolint:staticcheck // the slot view go-redis itself routes by
	if err != nil {
		return "", err
	}
	for _, s := range slots {
		if slot >= s.Start && slot <= s.End && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("slot %d has no master in CLUSTER SLOTS", slot)
}

// nodeClient is a single-node client on an announced address, through the Dialer.
func nodeClient(nat *redisnat.Dialer, addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Dialer: nat.Dial, DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second, MaxRetries: -1, DisableIdentity: true})
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
	for i := 0; i < n; i++ {
		if err := cc.Set(ctx, key(i), fmt.Sprintf("m%d", i), 0).Err(); err != nil {
			return fmt.Errorf("write %s: %w", key(i), err)
		}
	}
	slot64, err := cc.ClusterKeySlot(ctx, key(0)).Result()
	if err != nil {
		return err
	}
	slot := int(slot64)
	srcAddr, err := masterOf(ctx, cc, slot)
	if err != nil {
		return err
	}
	var dstAddr string
	for _, a := range r.masterAddrs(ctx, cc) {
		if a != srcAddr {
			dstAddr = a
			break
		}
	}
	if dstAddr == "" {
		return errors.New("no second master to migrate to")
	}
	src, dst := nodeClient(nat, srcAddr), nodeClient(nat, dstAddr)
	defer src.Close()
	defer dst.Close()
	srcID, err := src.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return err
	}
	dstID, err := dst.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return err
	}
	if err := dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err(); err != nil {
		return fmt.Errorf("SETSLOT %d IMPORTING on %s: %w", slot, dstAddr, err)
	}
	if err := src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err(); err != nil {
		return fmt.Errorf("SETSLOT %d MIGRATING on %s: %w", slot, srcAddr, err)
	}
	dstHost, dstPort, _ := net.SplitHostPort(dstAddr)
	migrate := func(keys []string) error {
		args := []any{"MIGRATE", dstHost, dstPort, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		return src.Do(ctx, args...).Err()
	}
	var first []string
	for i := 0; i < n/2; i++ {
		first = append(first, key(i))
	}
	if err := migrate(first); err != nil {
		return fmt.Errorf("MIGRATE %d keys of slot %d from %s to %s: %w", len(first), slot, srcAddr, dstAddr, err)
	}
	// The source now answers ASK for a moved key.
	askErr := src.Get(ctx, key(0)).Err()
	if askErr == nil || !strings.HasPrefix(askErr.Error(), "ASK ") || !strings.Contains(askErr.Error(), dstAddr) {
		return fmt.Errorf("GET %s on the migrating source %s = %s, want ASK %d %s", key(0), srcAddr, errText(askErr), slot, dstAddr)
	}
	r.Log("slot %d half-migrated %s → %s; the source answers: %v", slot, srcAddr, dstAddr, askErr)
	if err := readAll(ctx, cc, n, key, "m"); err != nil {
		return fmt.Errorf("during the migration (ASK): %w", err)
	}
	// Finish: every key left in the slot, ours and any other key that
	// hashes there (earlier steps wrote thousands of keys).
	for {
		left, err := src.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		if err != nil {
			return fmt.Errorf("CLUSTER GETKEYSINSLOT %d on %s: %w", slot, srcAddr, err)
		}
		if len(left) == 0 {
			break
		}
		if err := migrate(left); err != nil {
			return fmt.Errorf("MIGRATE %d more keys of slot %d: %w", len(left), slot, err)
		}
	}
	for _, a := range r.masterAddrs(ctx, cc) {
		c := nodeClient(nat, a)
		err := c.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err()
		c.Close()
		if err != nil {
			return fmt.Errorf("SETSLOT %d NODE on %s: %w", slot, a, err)
		}
	}
	if err := readAll(ctx, cc, n, key, "m"); err != nil {
		return fmt.Errorf("after the migration (MOVED): %w", err)
	}
	if owner, err := masterOf(ctx, cc, slot); err != nil || owner != dstAddr {
		return fmt.Errorf("slot %d owner after migration = %s (error: %s); want %s", slot, owner, errText(err), dstAddr)
	}
	r.Log("slot %d migrated; %d keys read through ASK and after the move", slot, n)
	return nil
}

func readAll(ctx context.Context, cc *redis.ClusterClient, n int, key func(int) string, prefix string) error {
	for i := 0; i < n; i++ {
		v, err := cc.Get(ctx, key(i)).Result()
		if err != nil || v != fmt.Sprintf("%s%d", prefix, i) {
			return fmt.Errorf("read %s = %q (error: %s); want %s%d", key(i), v, errText(err), prefix, i)
		}
	}
	return nil
}

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

// FixSurvivesFailover deletes the master of a key's slot and measures how
// long the remapping client takes to write that key again. While it waits,
// the forwards follow the pods (the deleted pod's forward goes, the
// recreated pod gets one) and the slot owner is read from a surviving master.
func (r *Runbook) FixSurvivesFailover(ctx context.Context) error {
	cc, nat, err := r.remappedClient(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	const key = "{failover}:probe"
	if err := cc.Set(ctx, key, "before", 0).Err(); err != nil {
		return err
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
	// A steady writer to the same slot (every 100 ms, 1 s per attempt)
	// records what an application would have seen, for the timeline.
	rec := timeline.NewRecorder(fmt.Sprintf("writes to slot %d through the remapping Dialer during a master failover", slot), "writes/s", time.Now())
	var okAfter atomic.Int32
	recovered := atomic.Bool{}
	wctx, stopWriter := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			actx, cancel := context.WithTimeout(wctx, time.Second)
			err := cc.Set(actx, "{failover}:writer", i, 0).Err()
			cancel()
			if wctx.Err() != nil {
				return
			}
			if err != nil {
				rec.Event("failed", time.Now())
				continue
			}
			rec.Event("ok", time.Now())
			if recovered.Load() {
				okAfter.Add(1)
			}
		}
	}()
	defer func() {
		stopWriter()
		<-writerDone
		if r.FailoverTimeline == nil { // failed: the timeline shows how
			r.FailoverTimeline = rec.Build(500*time.Millisecond, time.Now())
		}
	}()
	// Two seconds of the steady state first.
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 5*time.Second, false, func(context.Context) (bool, error) {
		return time.Since(rec.Start()) >= 2*time.Second, nil
	})

	zero := int64(0)
	deleted := time.Now()
	rec.Mark(deleted, "pod deleted", victim)
	if err := r.Lab.Client.CoreV1().Pods(r.Namespace).Delete(ctx, victim, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		return fmt.Errorf("delete master pod %s: %w", victim, err)
	}
	r.Log("deleted master pod %s (%s), owner of slot %d; watching from %s", victim, oldMaster, slot, witness)
	var lastErr error
	var newMaster string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, RecoverBound, true, func(ctx context.Context) (bool, error) {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if routes, err := r.forward.Sync(actx); err == nil {
			nat.SetRoutes(routes)
		}
		owner, err := slotOwner(actx, w, slot)
		if err != nil || owner == oldMaster {
			lastErr = fmt.Errorf("slot %d owner per %s: %q (error: %s)", slot, witness, owner, errText(err))
			return false, nil
		}
		if err := cc.Set(actx, key, "after", 0).Err(); err != nil {
			lastErr = fmt.Errorf("slot %d now on %s, but SET failed: %w", slot, owner, err)
			cc.ReloadState(actx)
			return false, nil
		}
		newMaster = owner
		return true, nil
	})
	r.Recovered = time.Since(deleted)
	if err != nil {
		nodes, _ := w.ClusterNodes(ctx).Result()
		return fmt.Errorf("the client did not write %s again within %s of deleting master %s: %w; last: %s; CLUSTER NODES from %s:\n%s",
			key, RecoverBound, victim, err, errText(lastErr), witness, nodes)
	}
	v, err := cc.Get(ctx, key).Result()
	if err != nil || v != "after" {
		return fmt.Errorf("read %s after failover = %q (error: %s); want after", key, v, errText(err))
	}
	rec.Mark(time.Now(), "recovered", newMaster)
	recovered.Store(true)
	// Keep writing a little so the plot shows the recovered steady state.
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, false, func(context.Context) (bool, error) {
		return okAfter.Load() >= 20, nil
	})
	stopWriter()
	<-writerDone
	r.FailoverTimeline = rec.Build(500*time.Millisecond, time.Now())
	r.Log("failover: replica %s promoted; the client wrote again %s after the master pod was deleted (bound %s); steady writer: %.0f ok, %.0f failed",
		newMaster, r.Recovered.Round(100*time.Millisecond), RecoverBound,
		r.FailoverTimeline.Total("ok", 500*time.Millisecond), r.FailoverTimeline.Total("failed", 500*time.Millisecond))
	return nil
}

// slotOwner asks one node which master serves slot.
func slotOwner(ctx context.Context, c *redis.Client, slot int) (string, error) {
	slots, err := c.ClusterSlots(ctx).Result() //nolint:staticcheck // the slot view go-redis itself routes by
	if err != nil {
		return "", err
	}
	for _, s := range slots {
		if slot >= s.Start && slot <= s.End && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("slot %d is not served", slot)
}

// NoForwardsLeft closes every forward and proves the local ports are gone.
func (r *Runbook) NoForwardsLeft(ctx context.Context) error {
	var addrs []string
	if r.forward != nil {
		addrs = r.forward.LocalAddrs()
		_ = r.forward.Close()
		r.forward = nil
	}
	if n := portforward.Open(); n != 0 {
		return fmt.Errorf("%d port-forwards still open after closing them all", n)
	}
	d := net.Dialer{Timeout: time.Second}
	for _, a := range addrs {
		if c, err := d.DialContext(ctx, "tcp", a); err == nil {
			c.Close()
			return fmt.Errorf("local port %s still accepts connections after its forward was closed", a)
		}
	}
	// Forwards, clients and their pools are closed: the goroutine count
	// must come back to where it was before the first forward (a small
	// allowance for the API client's own connections).
	const allowance = 10
	var now int
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		now = runtime.NumGoroutine()
		return now <= r.goroutines+allowance, nil
	})
	if err != nil {
		return fmt.Errorf("goroutines: %d now, %d before the first forward (allowance %d): something did not stop", now, r.goroutines, allowance)
	}
	r.Log("%d forwards closed; none of their local ports accepts connections; goroutines %d (before: %d)", len(addrs), now, r.goroutines)
	return nil
}

// Cleanup closes forwards and deletes the namespace.
func (r *Runbook) Cleanup(ctx context.Context) error {
	if r.forward != nil {
		_ = r.forward.Close()
		r.forward = nil
	}
	if r.Namespace == "" {
		return nil
	}
	return r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup)
}

// errText is an observed error as text ("<nil>" when there was none), for
// messages that report what was seen rather than wrap a cause.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
