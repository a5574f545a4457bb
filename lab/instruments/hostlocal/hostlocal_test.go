package hostlocal

import (
	"net/netip"
	"testing"
)

func TestParseSkipsBookkeepingFilesAndSortsByAddress(t *testing.T) {
	listing := "10.244.1.250\tbbb  eth0  \n" +
		"last_reserved_ip.0\t10.244.1.250 \n" +
		"lock\t\n" +
		"10.244.1.248\taaa  eth0  \n"
	got := Parse(listing)
	if len(got) != 2 {
		t.Fatalf("Parse = %v, want 2 reservations", got)
	}
	if got[0].IP != netip.MustParseAddr("10.244.1.248") || got[0].ContainerID != "aaa" || got[0].IfName != "eth0" {
		t.Errorf("first = %+v", got[0])
	}
	if got[1].ContainerID != "bbb" {
		t.Errorf("second = %+v", got[1])
	}
}

func TestOrphansAreReservationsNoLiveSandboxHolds(t *testing.T) {
	res := Parse("10.0.0.1\tlive eth0\n10.0.0.2\tgone eth0\n")
	got := Orphans(res, map[string]bool{"live": true})
	if len(got) != 1 || got[0].ContainerID != "gone" {
		t.Fatalf("Orphans = %v, want only the reservation of 'gone'", got)
	}
}
