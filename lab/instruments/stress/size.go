package stress

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a memStress --size value: either an absolute byte count or a
// percentage of the memory the process may use (see ReadMemoryLimit).
// In both cases it is the total over all workers.
type Size struct {
	// Raw is the value as given, e.g. "900MB" or "25%".
	Raw string
	// Bytes is the absolute size; meaningful when Percent is zero.
	Bytes uint64
	// Percent is the share of the memory limit, e.g. 25 for "25%"; zero for
	// absolute sizes.
	Percent float64
}

// ParseSize reads a --size value. A value ending in '%' is a percentage
// (any positive, finite float; above 100 is allowed because overrunning the
// limit on purpose is a legitimate chaos experiment); anything else goes
// through ParseBytes.
func ParseSize(s string) (Size, error) {
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || math.IsNaN(p) || math.IsInf(p, 0) || p <= 0 {
			return Size{}, fmt.Errorf("parse size %q: a percentage must be a positive number, like 25%%", s)
		}
		return Size{Raw: s, Percent: p}, nil
	}
	n, err := ParseBytes(s)
	if err != nil {
		return Size{}, err
	}
	return Size{Raw: s, Bytes: n}, nil
}

// LimitReader returns the memory limit a percentage refers to. Production
// code passes HostMemoryLimit; tests inject a fixed limit.
type LimitReader func() (Limit, error)

// Resolved is a Size turned into bytes.
type Resolved struct {
	// Bytes is the total to allocate.
	Bytes uint64
	// Percent is the share of Basis that was asked for; zero for absolute
	// sizes.
	Percent float64
	// Basis is the limit a percentage was taken of; zero for absolute sizes.
	Basis Limit
}

// String explains the number, e.g. "268435456 B (268.44 MB, 256.00 MiB) =
// 25% of 1073741824 B (1073.74 MB, 1024.00 MiB) from <source>".
func (r Resolved) String() string {
	if r.Percent == 0 {
		return FormatBytes(r.Bytes)
	}
	return fmt.Sprintf("%s = %g%% of %s from %s", FormatBytes(r.Bytes), r.Percent, FormatBytes(r.Basis.Bytes), r.Basis.Source)
}

// Resolve returns the byte count of s. Only percentages call read. The
// formula is upstream memStress's: uint64(float64(limit) / 100 * percent).
func (s Size) Resolve(read LimitReader) (Resolved, error) {
	if s.Percent == 0 {
		return Resolved{Bytes: s.Bytes}, nil
	}
	limit, err := read()
	if err != nil {
		return Resolved{}, fmt.Errorf("resolve size %q: %w", s.Raw, err)
	}
	b := float64(limit.Bytes) / 100 * s.Percent
	if b >= math.MaxUint64 {
		return Resolved{}, fmt.Errorf("resolve size %q: too large for 64 bits", s.Raw)
	}
	return Resolved{Bytes: uint64(b), Percent: s.Percent, Basis: limit}, nil
}
