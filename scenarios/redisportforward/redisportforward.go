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
//     pod) and lab/redisnat's Dialer mapping podIP:6379 → 127.0.0.1:<port>:
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
package redisportforward

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/portforward"
	"github.com/nodelab/nodelab/lab/redisnat"
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
	// RecoverBound is how long the remapping client may take to write again
	// after a master pod is deleted: cluster-node-timeout (5s) plus the
	// replica's election and the client's slot reload (StateReload), with
	// margin for a 2-core host.
	RecoverBound = 45 * time.Second
	// StateReload is how often fix 2's client reloads the cluster's slot
	// map by itself (go-redis ClusterStateReloadInterval).
	StateReload = 2 * time.Second
	redisPort   = 6379
	selector    = "app=redis"
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
	goroutines int
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
			ok := p.DeletionTimestamp == nil && lab.PodCondition(&p, corev1.PodReady)
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
	r.localAddrs = append(r.localAddrs, fw.Addr())
	c := redis.NewClient(&redis.Options{Addr: fw.Addr(), DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, MaxRetries: -1, DisableIdentity: true})
	return c, fw, nil
}

// waitClusterOK waits until redis-0 reports a ready cluster: CLUSTER INFO
// with cluster_state:ok, 16384 slots assigned and ok, cluster_size:3 and 6
// known nodes, and CLUSTER NODES with 3 masters that serve slots, each with
// exactly one replica, none failing.
func (r *Runbook) waitClusterOK(ctx context.Context) error {
	c, fw, err := r.plainClient(ctx, "redis-0")
	if err != nil {
		return err
	}
	defer fw.Close()
	defer c.Close()
	var seen string
	err = wait.PollUntilContextTimeout(ctx, r.t().Poll, r.t().Network, true, func(ctx context.Context) (bool, error) {
		s, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			seen = "CLUSTER INFO: " + err.Error()
			return false, nil
		}
		if bad := infoMismatch(parseInfo(s)); len(bad) > 0 {
			seen = "CLUSTER INFO: " + strings.Join(bad, ", ")
			return false, nil
		}
		txt, err := c.ClusterNodes(ctx).Result()
		if err != nil {
			seen = "CLUSTER NODES: " + err.Error()
			return false, nil
		}
		nodes, err := parseNodes(txt)
		if err != nil {
			seen = err.Error()
			return false, nil
		}
		if bad := topologyProblems(nodes); len(bad) > 0 {
			seen = "CLUSTER NODES: " + strings.Join(bad, "; ") + "\n" + txt
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("redis-cluster ready (state ok, 16384 slots ok, 3 masters with one replica each, 6 nodes) within %s: %w; last seen from redis-0: %s", r.t().Network, err, seen)
	}
	return nil
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
	r.env.Logf("plain client through one forward: %s", moved)

	// Who owns each key's slot, per redis-0 (the view the cluster client gets).
	slots, err := c.ClusterSlots(ctx).Result() //nolint:staticcheck // the slot view go-redis itself routes by
	if err != nil {
		return fmt.Errorf("CLUSTER SLOTS on redis-0: %w", err)
	}
	self := net.JoinHostPort(r.podIPs["redis-0"], strconv.Itoa(redisPort))

	// A cluster client seeded with the forward learns pod IPs from CLUSTER
	// SLOTS and dials them. A write to a slot of another master must fail
	// with a dial error to an unreachable pod IP:6379. A write to one of
	// redis-0's own slots may succeed (go-redis dials redis-0's announced
	// IP too, so it usually fails the same way); if it fails, it must fail
	// the same way. DialerRetries 1 (default 5) and a 1 s DialTimeout keep
	// the 30 writes within a minute on a host where pod IPs time out rather
	// than refuse; the error is the same.
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{fw.Addr()}, DialTimeout: time.Second, DialerRetries: 1, ReadTimeout: 2 * time.Second,
		MaxRedirects: 3, MaxRetries: -1, DisableIdentity: true,
	})
	defer cc.Close()
	const writes = 30
	var others, othersFailed, own, ownFailed int
	var wrote []string         // keys of other masters' slots that were written
	var wrongErr error         // the first failure that is not the pitfall's dial error
	var example error          // the first failure that is
	dialed := map[string]int{} // pod address named by the dial error → writes
	for i := 0; i < writes; i++ {
		key := fmt.Sprintf("pitfall:cc:%d", i)
		slot, err := c.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("CLUSTER KEYSLOT %s on redis-0: %w", key, err)
		}
		owner := ownerOf(slots, int(slot))
		werr := cc.Set(ctx, key, i, 0).Err()
		if owner == self {
			own++
		} else {
			others++
		}
		switch {
		case werr == nil && owner != self:
			wrote = append(wrote, fmt.Sprintf("%s (slot %d on %s)", key, slot, owner))
			continue
		case werr == nil:
			continue
		case owner == self:
			ownFailed++
		default:
			othersFailed++
		}
		addr, ok := dialAddr(werr)
		switch {
		case !ok && wrongErr == nil:
			wrongErr = fmt.Errorf("write %s (slot %d, owned by %s) failed, but not with a dial error (*net.OpError, Op dial): %w", key, slot, owner, werr)
		case ok && unreachable[addr] == nil && wrongErr == nil:
			wrongErr = fmt.Errorf("write %s (slot %d, owned by %s) failed dialling %s, which is not one of the pod addresses the host cannot reach (%s): %w",
				key, slot, owner, addr, strings.Join(slices.Sorted(maps.Keys(unreachable)), ", "), werr)
		case ok && unreachable[addr] != nil:
			dialed[addr]++
			if example == nil {
				example = werr
			}
		}
	}
	counts := fmt.Sprintf("%d of %d writes to slots of the other masters failed, %d of %d to redis-0's own slots", othersFailed, others, ownFailed, own)
	switch {
	case others == 0:
		return fmt.Errorf("none of %d keys hashes to a slot of another master than redis-0 (%s) per its CLUSTER SLOTS: cannot show the pitfall", writes, self)
	case len(wrote) > 0:
		return fmt.Errorf("the ClusterClient through the one forward of redis-0 wrote to other masters: %s; the pitfall did not reproduce (%s)", strings.Join(wrote, ", "), counts)
	case wrongErr != nil:
		return fmt.Errorf("%s, but not all the way users see it: %w", counts, wrongErr)
	}
	r.env.Logf("ClusterClient through one forward: %s, each with a dial error to an unreachable pod address (writes per address: %v); for example: %v",
		counts, dialed, example)
	return nil
}

// unreachablePodAddrs dials every pod's redis port from here (in parallel,
// one second each) and returns each podIP:6379 with its dial error. A pod
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
			d := net.Dialer{Timeout: time.Second}
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

// dialAddr returns the address a dial error names (a *net.OpError with Op
// "dial" in err's chain).
func dialAddr(err error) (string, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || op.Addr == nil {
		return "", false
	}
	return op.Addr.String(), true
}

func (r *Runbook) namesPodIP(s string) bool {
	for _, ip := range r.podIPs {
		if strings.Contains(s, ip+":") {
			return true
		}
	}
	return false
}

// inClusterScript writes and reads Keys keys incluster:<i> with redis-cli
// -c, prints the counts, then one line per master with how many incluster:*
// keys it holds (other steps' keys are not counted).
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
redis-cli -h $h CLUSTER NODES | while read -r id addr flags rest; do
  case "$flags" in *master*) ;; *) continue ;; esac
  a=${addr%%@*}
  n=$(redis-cli -h ${a%%:*} -p ${a##*:} --scan --pattern 'incluster:*' | wc -l)
  echo "master $a incluster-keys=$n"
done
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
	perMaster := inClusterKeysPerMaster(out)
	total, masters := 0, 0
	for _, n := range perMaster {
		total += n
		if n > 0 {
			masters++
		}
	}
	if len(perMaster) != 3 || masters != 3 || total != Keys {
		return fmt.Errorf("incluster:* keys per master %v: %d keys on %d of %d masters, want %d on 3 of 3; the Job's log:\n%s",
			perMaster, total, masters, len(perMaster), Keys, out)
	}
	r.env.Logf("in-cluster client: %d keys written and read back, incluster:* keys per master %v", Keys, perMaster)
	return nil
}

// inClusterKeysPerMaster parses the script's "master <addr> incluster-keys=<n>" lines.
func inClusterKeysPerMaster(out string) map[string]int {
	per := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "master" {
			continue
		}
		v, ok := strings.CutPrefix(f[2], "incluster-keys=")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil {
			per[f[1]] = n
		}
	}
	return per
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
		Addrs: []string{seed}, Dialer: nat.Dial, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second,
		MaxRedirects: 8, DisableIdentity: true, ClusterStateReloadInterval: StateReload,
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
	r.env.Logf("every pod forwarded (%d forwards): %d keys written and read back from the host, per master %v", len(nat.Routes()), Keys, perMaster)
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
	r.env.Logf("slot %d half-migrated %s → %s; the source answers: %v", slot, srcAddr, dstAddr, askErr)
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
	r.env.Logf("slot %d migrated; %d keys read through ASK and after the move", slot, n)
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

// NoForwardsLeft closes every forward and proves nothing is left.
func (r *Runbook) NoForwardsLeft(ctx context.Context) error {
	r.closeForwards()
	return r.CheckNoLeaks(ctx)
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

// LeakAllowance is how many more goroutines than before the first forward
// CheckNoLeaks accepts (the API client's own connections).
const LeakAllowance = 10

// CheckNoLeaks proves that no port-forward of this process is open, that
// none of the local ports this run forwarded accepts connections, and that
// the goroutine count is back within LeakAllowance of what it was before the
// first forward. It holds after Cleanup too (the e2e suite checks it there).
func (r *Runbook) CheckNoLeaks(ctx context.Context) error {
	if n := portforward.Open(); n != 0 {
		return fmt.Errorf("%d port-forwards still open after closing them all", n)
	}
	d := net.Dialer{Timeout: time.Second}
	for _, a := range r.localAddrs {
		if c, err := d.DialContext(ctx, "tcp", a); err == nil {
			c.Close()
			return fmt.Errorf("local port %s still accepts connections after its forward was closed", a)
		}
	}
	if r.goroutines == 0 {
		return errors.New("no goroutine count from before the first forward (did Deploy run?)")
	}
	var now int
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		now = runtime.NumGoroutine()
		return now <= r.goroutines+LeakAllowance, nil
	})
	if err != nil {
		var stacks strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		dump := stacks.String()
		if len(dump) > 8<<10 {
			dump = dump[:8<<10] + "\n..."
		}
		return fmt.Errorf("goroutines: %d now, %d before the first forward (allowance %d): something did not stop: %w; goroutines by stack:\n%s",
			now, r.goroutines, LeakAllowance, err, dump)
	}
	r.env.Logf("no leak: 0 port-forwards open; none of %d local ports accepts connections; goroutines %d (before: %d, allowance %d)",
		len(r.localAddrs), now, r.goroutines, LeakAllowance)
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

// errText is an observed error as text ("<nil>" when there was none), for
// messages that report what was seen rather than wrap a cause.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
