package ipleak

import (
	"net/netip"
	"testing"

	"github.com/nodelab/nodelab/lab/instruments/hostlocal"
)

func TestPickWindowTakesTheHighestFreeRun(t *testing.T) {
	taken := []hostlocal.Reservation{{IP: netip.MustParseAddr("10.244.1.250")}}
	w, err := pickWindow("10.244.1.0/24", 8, taken)
	if err != nil {
		t.Fatal(err)
	}
	if w.First.String() != "10.244.1.242" || w.Last.String() != "10.244.1.249" {
		t.Fatalf("window = %s, want 10.244.1.242-10.244.1.249 (below the taken .250, no broadcast)", w)
	}
	if !w.Contains(netip.MustParseAddr("10.244.1.245")) || w.Contains(netip.MustParseAddr("10.244.1.250")) {
		t.Errorf("Contains is wrong for %s", w)
	}
}

func TestPickWindowRefusesASmallRange(t *testing.T) {
	if _, err := pickWindow("10.244.1.0/30", 8, nil); err == nil {
		t.Fatal("a /30 gave a window of 8")
	}
	if _, err := pickWindow("not-a-cidr", 8, nil); err == nil {
		t.Fatal("a bad podCIDR gave a window")
	}
}
