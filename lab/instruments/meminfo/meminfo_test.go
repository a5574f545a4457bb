package meminfo

import "testing"

func TestParse(t *testing.T) {
	info, err := Parse("MemTotal:       24600124 kB\nMemFree:        20000000 kB\nMemAvailable:   22000000 kB\nHugePages_Total:       0\n")
	if err != nil {
		t.Fatal(err)
	}
	if info["MemTotal"] != 24600124*1024 || info["MemAvailable"] != 22000000*1024 || info["HugePages_Total"] != 0 {
		t.Fatalf("info = %v", info)
	}
	if _, err := Parse("Inactive(file): 1 kB\n"); err == nil {
		t.Fatal("text without MemTotal accepted")
	}
	if _, err := Parse("MemTotal: lots kB\n"); err == nil {
		t.Fatal("non-number accepted")
	}
}

func TestHost(t *testing.T) {
	info, err := Host()
	if err != nil {
		t.Skipf("no /proc/meminfo here: %v", err)
	}
	if info["MemTotal"] == 0 || info["MemAvailable"] > info["MemTotal"] {
		t.Fatalf("host meminfo = %v", info)
	}
}
