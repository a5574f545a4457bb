package procfs

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	// A comm with spaces and a ')' must not shift the fields.
	const line = "4242 (my (odd) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615\n"
	s, err := ParseStat(line)
	if err != nil {
		t.Fatalf("ParseStat: %v", err)
	}
	want := Stat{PID: 4242, Comm: "my (odd) name", State: 'S', PPID: 17, StartTime: 987654}
	if s != want {
		t.Errorf("ParseStat = %+v, want %+v", s, want)
	}
	for _, bad := range []string{"", "12 no-parens S 1", "x (a) S 1 2 3", "12 (a) S 1 2 3"} {
		if s, err := ParseStat(bad); err == nil {
			t.Errorf("ParseStat(%q) = %+v, want an error", bad, s)
		}
	}
}

func TestStatusBytes(t *testing.T) {
	const status = "Name:\tsleep\nVmPeak:\t   8000 kB\nVmRSS:\t    1024 kB\nRssAnon:\t  128 kB\n"
	if n, err := StatusBytes(status, "VmRSS"); err != nil || n != 1<<20 {
		t.Errorf("StatusBytes(VmRSS) = %d, %v; want 1048576", n, err)
	}
	if _, err := StatusBytes("Name:\tkthreadd\n", "VmRSS"); err == nil {
		t.Error("StatusBytes on a kernel thread's status: want an error, got none")
	}
}

func TestReadStatOfSelf(t *testing.T) {
	s, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatalf("ReadStat(self): %v", err)
	}
	if s.PID != os.Getpid() || s.PPID != os.Getppid() || s.StartTime == 0 {
		t.Errorf("ReadStat(self) = %+v, want pid %d, ppid %d and a start time", s, os.Getpid(), os.Getppid())
	}
	if ok, err := Running(s); err != nil || !ok {
		t.Errorf("Running(self) = %v, %v; want true", ok, err)
	}
	if ok, err := Running(Stat{PID: s.PID, StartTime: s.StartTime + 1}); err != nil || ok {
		t.Errorf("Running(self with another start time) = %v, %v; want false: the PID was reused", ok, err)
	}
	if rss, err := VmRSS(os.Getpid()); err != nil || rss == 0 {
		t.Errorf("VmRSS(self) = %d, %v; want a positive size", rss, err)
	}
}
