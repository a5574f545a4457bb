package stress

import (
	"testing"
	"time"
)

func TestPagesRoundsUp(t *testing.T) {
	for _, tc := range []struct{ n, want uint64 }{{0, 0}, {1, 1}, {4096, 1}, {4097, 2}, {4 << 20, 1024}} {
		if got := Pages(tc.n, 4096); got != tc.want {
			t.Errorf("Pages(%d, 4096) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestRampTarget(t *testing.T) {
	r := Ramp{Pages: 1000, Over: time.Second}
	cases := []struct {
		at   time.Duration
		want uint64
	}{
		{-time.Second, 0},
		{0, 0},
		{RampStep, 10},
		{250 * time.Millisecond, 250},
		{time.Second / 3, 333}, // rounds down
		{999 * time.Millisecond, 999},
		{time.Second, 1000},
		{time.Hour, 1000}, // never beyond Pages
	}
	for _, tc := range cases {
		if got := r.Target(tc.at); got != tc.want {
			t.Errorf("Ramp{1000 pages over 1s}.Target(%v) = %d, want %d", tc.at, got, tc.want)
		}
	}
	if got := (Ramp{Pages: 7}).Target(0); got != 7 {
		t.Errorf("Ramp without Over: Target(0) = %d, want all 7 pages at once", got)
	}
	// A 1 TiB ramp over a day must not overflow 64 bits.
	huge := Ramp{Pages: 1 << 28, Over: 24 * time.Hour}
	if got := huge.Target(12 * time.Hour); got != 1<<27 {
		t.Errorf("1 TiB over 24h at 12h = %d pages, want %d", got, 1<<27)
	}
}

func TestRampSchedule(t *testing.T) {
	s := Ramp{Pages: 1024, Over: 100 * time.Millisecond}.Schedule()
	if len(s) != 10 {
		t.Fatalf("100ms ramp has %d steps of %v, want 10: %v", len(s), RampStep, s)
	}
	if s[0] != 102 || s[4] != 512 || s[9] != 1024 {
		t.Errorf("schedule = %v, want 102 at 10ms, 512 at 50ms, 1024 at 100ms", s)
	}
	for i := 1; i < len(s); i++ {
		if s[i] < s[i-1] {
			t.Errorf("schedule decreases at step %d: %v", i, s)
		}
	}
	// A duration that is not a whole number of steps still ends on Pages.
	odd := Ramp{Pages: 10, Over: 25 * time.Millisecond}.Schedule()
	if len(odd) != 3 || odd[2] != 10 {
		t.Errorf("25ms ramp schedule = %v, want 3 steps ending at 10", odd)
	}
	if all := (Ramp{Pages: 5}).Schedule(); len(all) != 1 || all[0] != 5 {
		t.Errorf("all-at-once schedule = %v, want [5]", all)
	}
}
