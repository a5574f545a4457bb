package stress

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteUnits maps a lower-cased suffix to its multiplier. It is the table of
// github.com/dustin/go-humanize v1.0.1 (bytes.go), which upstream memStress
// uses: SI units (k, kB, M, MB, ...) are powers of 1000, IEC units (Ki,
// KiB, Mi, MiB, ...) are powers of 1024, and no suffix or "B" means bytes.
var byteUnits = map[string]uint64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1e15, "pb": 1e15, "pi": 1 << 50, "pib": 1 << 50,
	"e": 1e18, "eb": 1e18, "ei": 1 << 60, "eib": 1 << 60,
}

// ParseBytes reads a byte count the way go-humanize's ParseBytes (v1.0.1)
// does, so nodelab's memstress accepts and rejects exactly what upstream
// memStress does, without adding go-humanize to go.mod:
//
//   - the number is the leading run of digits, '.' and ',' (commas are
//     dropped, so "1,000" is 1000) and is read as a float ("1.5GiB" works);
//   - the rest, trimmed of spaces and lower-cased, must be a unit of the
//     table above ("900MB" = 900,000,000; "900MiB" = 943,718,400; "42 mib",
//     "8M" and "512" are valid);
//   - the product is truncated to a whole byte count; values that do not
//     fit in a uint64 are an error.
//
// One difference in form only: go-humanize also lets non-ASCII Unicode
// digits into the number, which then always fails to parse; here they end
// the number and fail as an unknown unit. Both reject the input.
func ParseBytes(s string) (uint64, error) {
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.' || s[end] == ',') {
		end++
	}
	num := strings.ReplaceAll(s[:end], ",", "")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("parse size %q: the number %q is not a decimal number", s, num)
	}
	unit := strings.ToLower(strings.TrimSpace(s[end:]))
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("parse size %q: unknown unit %q (use B, kB, MB, GB, TB, PB, EB for powers of 1000 or KiB, MiB, GiB, TiB, PiB, EiB for powers of 1024)", s, s[end:])
	}
	f *= float64(mult)
	if f >= math.MaxUint64 {
		return 0, fmt.Errorf("parse size %q: too large for 64 bits", s)
	}
	return uint64(f), nil
}

// FormatBytes shows n in bytes, SI megabytes and IEC mebibytes, e.g.
// "900000000 B (900.00 MB, 858.31 MiB)", so that a log line can be compared
// with either kind of limit without converting by hand.
func FormatBytes(n uint64) string {
	return fmt.Sprintf("%d B (%.2f MB, %.2f MiB)", n, float64(n)/1e6, float64(n)/(1<<20))
}
