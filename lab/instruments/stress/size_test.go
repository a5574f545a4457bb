package stress

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSizeAndResolve(t *testing.T) {
	oneGiB := func() (Limit, error) { return Limit{Bytes: 1 << 30, Source: "test limit"}, nil }
	cases := []struct {
		in   string
		want uint64
	}{
		{"900MB", 900_000_000},
		{"1GiB", 1 << 30},
		{"25%", 1 << 28},
		{"100%", 1 << 30},
		{"12.5%", 1 << 27},
		{"150%", 3 << 29}, // overrunning the limit on purpose is allowed
	}
	for _, tc := range cases {
		s, err := ParseSize(tc.in)
		if err != nil {
			t.Errorf("ParseSize(%q): %v", tc.in, err)
			continue
		}
		r, err := s.Resolve(oneGiB)
		if err != nil || r.Bytes != tc.want {
			t.Errorf("ParseSize(%q).Resolve(1GiB limit) = %d, %v; want %d", tc.in, r.Bytes, err, tc.want)
		}
	}

	for _, in := range []string{"%", "0%", "-5%", "abc%", "NaN%", "Inf%", "5XB"} {
		if s, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %+v, want an error", in, s)
		}
	}
}

func TestResolveOnlyReadsTheLimitForPercentages(t *testing.T) {
	failing := func() (Limit, error) { return Limit{}, errors.New("no /proc here") }
	abs, _ := ParseSize("8MiB")
	if r, err := abs.Resolve(failing); err != nil || r.Bytes != 8<<20 {
		t.Errorf("8MiB with a failing limit reader = %d, %v; want 8388608 and no error", r.Bytes, err)
	}
	pct, _ := ParseSize("25%")
	if _, err := pct.Resolve(failing); err == nil || !strings.Contains(err.Error(), "no /proc here") {
		t.Errorf("25%% with a failing limit reader: err = %v, want the reader's error", err)
	}
}

func TestResolvedStringNamesTheBasis(t *testing.T) {
	s, _ := ParseSize("25%")
	r, _ := s.Resolve(func() (Limit, error) { return Limit{Bytes: 1 << 30, Source: "/sys/fs/cgroup/memory.max"}, nil })
	got := r.String()
	for _, want := range []string{"268435456 B", "256.00 MiB", "25% of 1073741824 B", "/sys/fs/cgroup/memory.max"} {
		if !strings.Contains(got, want) {
			t.Errorf("Resolved.String() = %q, want it to contain %q", got, want)
		}
	}
}
