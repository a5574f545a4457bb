package redisportforward

import (
	"strings"
	"testing"
)

// The format of `redis-cli --cluster info` (redis 7.0).
const clusterInfo = `10.244.1.5:6379 (8f1c2a3b...) -> 343 keys | 5461 slots | 1 slaves.
10.244.1.6:6379 (1d2e3f4a...) -> 330 keys | 5462 slots | 1 slaves.
10.244.1.7:6379 (9a8b7c6d...) -> 0 keys | 5461 slots | 1 slaves.
[OK] 673 keys in 3 masters.
0.04 keys per slot on average.
`

func TestMastersWithKeys(t *testing.T) {
	if got := mastersWithKeys(clusterInfo); got != 2 {
		t.Errorf("mastersWithKeys = %d, want 2 (one master has 0 keys)", got)
	}
	if got := mastersWithKeys(strings.Replace(clusterInfo, "-> 0 keys", "-> 327 keys", 1)); got != 3 {
		t.Errorf("mastersWithKeys = %d, want 3", got)
	}
	if got := mastersWithKeys("Could not connect to Redis at redis-0:6379: Connection refused"); got != 0 {
		t.Errorf("mastersWithKeys(error output) = %d, want 0", got)
	}
}

func TestInClusterScriptChecksEveryKey(t *testing.T) {
	s := inClusterScript("redis-0.redis.ns.svc.cluster.local")
	for _, want := range []string{"-lt 1000", "redis-cli -c -h $h SET", "redis-cli -c -h $h GET", "read-ok=$ok read-bad=$bad", "--cluster info"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
