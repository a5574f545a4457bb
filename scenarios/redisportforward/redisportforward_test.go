package redisportforward

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// The tail of inClusterScript's output on a 3-master cluster.
const inClusterOut = `read-ok=1000 read-bad=0
master 10.244.1.5:6379 incluster-keys=343
master 10.244.1.6:6379 incluster-keys=330
master 10.244.1.7:6379 incluster-keys=327
`

func TestInClusterKeysPerMaster(t *testing.T) {
	got := inClusterKeysPerMaster(inClusterOut)
	want := map[string]int{"10.244.1.5:6379": 343, "10.244.1.6:6379": 330, "10.244.1.7:6379": 327}
	if !maps.Equal(got, want) {
		t.Errorf("inClusterKeysPerMaster = %v, want %v", got, want)
	}
	if got := inClusterKeysPerMaster("Could not connect to Redis at redis-0:6379: Connection refused"); len(got) != 0 {
		t.Errorf("inClusterKeysPerMaster(error output) = %v, want none", got)
	}
}

func TestInClusterScriptChecksEveryKey(t *testing.T) {
	s, err := inClusterScript("redis-0.redis.ns.svc.cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "set -e\nh=redis-0.redis.ns.svc.cluster.local\n") {
		t.Errorf("script does not start with set -e and the host (the fixture's comment must render nothing):\n%s", s)
	}
	for _, want := range []string{"-lt 1000", "redis-cli -c -h $h SET incluster:", "redis-cli -c -h $h GET incluster:", "read-ok=$ok read-bad=$bad",
		"CLUSTER NODES", "*master*", "--scan --pattern 'incluster:*'", "incluster-keys=$n"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

// CLUSTER NODES of a ready cluster (redis 7.0), seen from 10.244.1.5.
const nodesReady = `e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 10.244.1.5:6379@16379 myself,master - 0 0 1 connected 0-5460
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.244.1.6:6379@16379 master - 0 1700000000000 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 10.244.1.7:6379@16379 master - 0 1700000000000 3 connected 10923-16383
6ec23923021cf3ffec47632106199cb7f496ce01 10.244.1.8:6379@16379,redis-3 slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1700000000000 2 connected
824fe116063bc5fcf9f4ffd895bc17aee7731ac3 10.244.1.9:6379@16379 slave 292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 0 1700000000000 3 connected
a2c1b3d4e5f60718293a4b5c6d7e8f9012345678 10.244.1.10:6379@16379 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1700000000000 1 connected
`

func TestTopologyOfAReadyCluster(t *testing.T) {
	nodes, err := parseNodes(nodesReady)
	if err != nil {
		t.Fatal(err)
	}
	if p := topologyProblems(nodes); len(p) != 0 {
		t.Errorf("topologyProblems = %v, want none", p)
	}
	r, err := replicaOf(nodes, "10.244.1.6:6379")
	if err != nil || r.Addr != "10.244.1.8:6379" {
		t.Errorf("replicaOf(10.244.1.6:6379) = %s, %v; want 10.244.1.8:6379 (hostname suffix cut)", r.Addr, err)
	}
	if _, err := replicaOf(nodes, "10.244.1.8:6379"); err == nil || !strings.Contains(err.Error(), "not a master") {
		t.Errorf("replicaOf(a replica) error = %v, want not a master", err)
	}
	if _, err := replicaOf(nodes, "10.244.9.9:6379"); err == nil {
		t.Error("replicaOf(an unknown address) succeeded")
	}
}

func TestTopologyProblems(t *testing.T) {
	// Two replicas on one master, none on another (a create with the wrong
	// replica count), and a failed node.
	s := strings.Replace(nodesReady, "slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", "slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1", 1)
	s = strings.Replace(s, "10.244.1.9:6379@16379 slave", "10.244.1.9:6379@16379 slave,fail", 1)
	nodes, err := parseNodes(s)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(topologyProblems(nodes), "; ")
	for _, want := range []string{"master 10.244.1.5:6379 has 0 replicas", "master 10.244.1.6:6379 has 2 replicas", "10.244.1.9:6379 flags slave,fail"} {
		if !strings.Contains(got, want) {
			t.Errorf("topologyProblems = %s; want it to say %q", got, want)
		}
	}
	if _, err := replicaOf(nodes, "10.244.1.7:6379"); err == nil {
		t.Error("replicaOf a master whose only replica failed succeeded")
	}
	if _, err := parseNodes("garbage line"); err == nil {
		t.Error("parseNodes accepted a line with 2 fields")
	}
}

func TestInfoMismatch(t *testing.T) {
	info := parseInfo("cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_size:3\r\ncluster_known_nodes:6\r\n")
	if bad := infoMismatch(info); len(bad) != 0 {
		t.Errorf("infoMismatch = %v, want none", bad)
	}
	info["cluster_slots_ok"] = "16000"
	info["cluster_size"] = "30"
	if bad := strings.Join(infoMismatch(info), ", "); !strings.Contains(bad, `cluster_slots_ok="16000"`) || !strings.Contains(bad, `cluster_size="30"`) {
		t.Errorf("infoMismatch = %s, want cluster_slots_ok and cluster_size", bad)
	}
}

func TestDialAddr(t *testing.T) {
	op := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP("10.244.1.6"), Port: 6379}, Err: errors.New("connect: no route to host")}
	if a, ok := dialAddr(fmt.Errorf("redis: %w", op)); !ok || a != "10.244.1.6:6379" {
		t.Errorf("dialAddr(wrapped dial error) = %q, %v; want 10.244.1.6:6379", a, ok)
	}
	if _, ok := dialAddr(&net.OpError{Op: "read", Addr: op.Addr, Err: op.Err}); ok {
		t.Error("dialAddr accepted a read error")
	}
	if _, ok := dialAddr(errors.New("dial tcp 10.244.1.6:6379: connect: no route to host")); ok {
		t.Error("dialAddr accepted an error that only looks like a dial error")
	}
}

// Recovery is the first OK write after the outage began, not an OK write
// the dying master still served right after the deletion marker.
func TestSteadyWriterRecovery(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w := &steadyWriter{rec: timeline.NewRecorder("t", "writes/s", t0)}
	w.record(at(100), nil)
	w.markDeleted(at(150))
	w.record(at(200), nil) // the old master had not died yet
	fail := errors.New("dial tcp: connection refused")
	w.record(at(300), fail)
	w.record(at(400), fail)
	w.record(at(7300), nil)
	w.record(at(7400), fail)
	w.record(at(7500), nil)
	s := w.state()
	if got := s.recoveredAt.Sub(at(150)); got != 7150*time.Millisecond {
		t.Errorf("recovered %s after the deletion, want 7.15s", got)
	}
	if s.okBeforeOutage != 1 || s.failedAfter != 2 || s.okAfterRecovery != 1 || s.failedAfterRecovery != 1 || s.ok != 4 || s.failed != 3 {
		t.Errorf("state = %+v", s)
	}
}
