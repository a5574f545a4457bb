package cgroupaccounting

import "testing"

func TestBurstableOOMScoreAdj(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		request, capacity int64
		want              int
	}{
		{200 << 20, 24 * gib, 992}, // the app on a 24 GiB node: 1000 − 8
		{1, 24 * gib, 999},         // a tiny request is still below BestEffort's 1000
		{24 * gib, 24 * gib, 3},    // a request of the whole node: floor 1000 − 997
		{12 * gib, 24 * gib, 500},  // half the node
		{100 * gib, 24 * gib, 3},   // more than the node
	} {
		if got := burstableOOMScoreAdj(c.request, c.capacity); got != c.want {
			t.Errorf("burstableOOMScoreAdj(%d, %d) = %d, want %d", c.request, c.capacity, got, c.want)
		}
	}
}

func TestFreeMemTotal(t *testing.T) {
	// busybox free -b and procps free -b.
	for _, out := range []string{
		"              total        used        free      shared  buff/cache   available\nMem:    25190526976  1507336192 21478678528     1396736  2204512256 23273046016\nSwap:             0           0           0\n",
		"             total       used       free     shared    buffers     cached\nMem:   25190526976 3711848448 21478678528 1396736 0 2204512256\n",
	} {
		got, err := freeMemTotal(out)
		if err != nil || got != 25190526976 {
			t.Errorf("freeMemTotal = %d, %v", got, err)
		}
	}
	if _, err := freeMemTotal("free: applet not found\n"); err == nil {
		t.Error("output without a Mem: line accepted")
	}
}
