package stress

import (
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	// The valid cases are go-humanize v1.0.1's own table plus the sizes
	// StressChaos examples use; each must give the same number as
	// humanize.ParseBytes.
	valid := []struct {
		in   string
		want uint64
	}{
		{"42", 42},
		{"0", 0},
		{"0KB", 0}, // upstream memStress's default --size
		{"512B", 512},
		{"42MB", 42_000_000},
		{"42MiB", 44_040_192},
		{"42mb", 42_000_000},
		{"42MIB", 44_040_192},
		{"42 mib", 44_040_192},
		{"42.5MB", 42_500_000},
		{"42.5 MiB", 44_564_480},
		{"42M", 42_000_000},
		{"42Mi", 44_040_192},
		{"42 m", 42_000_000},
		{"1,005.03 MB", 1_005_030_000},
		{"900MB", 900_000_000},
		{"900MiB", 943_718_400},
		{"1GB", 1_000_000_000},
		{"1GiB", 1 << 30},
		{"1.5GiB", 3 << 29},
		{"8MiB", 8 << 20},
		{"256k", 256_000},
		{"256Ki", 256 << 10},
		{"12.5 EiB", 12.5 * (1 << 60)},
		{"1.", 1},
		{".5KiB", 512},
	}
	for _, tc := range valid {
		got, err := ParseBytes(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}

	invalid := []struct{ in, why string }{
		{"", "not a decimal number"},
		{"MB", "not a decimal number"},
		{"-1MB", "not a decimal number"},
		{" 5MB", "not a decimal number"}, // go-humanize does not trim leading space either
		{"1.2.3MB", "not a decimal number"},
		{"84 JB", "unknown unit"},
		{"1e3", "unknown unit"}, // 'e' ends the number: "e3" is no unit
		{"5MBs", "unknown unit"},
		{"25%", "unknown unit"}, // percentages are ParseSize's business
		{"16 EiB", "too large"},
	}
	for _, tc := range invalid {
		got, err := ParseBytes(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ParseBytes(%q) = %d, %v; want an error containing %q", tc.in, got, err, tc.why)
		}
	}
}

func TestFormatBytesShowsBothUnits(t *testing.T) {
	got := FormatBytes(900_000_000)
	want := "900000000 B (900.00 MB, 858.31 MiB)"
	if got != want {
		t.Errorf("FormatBytes(900000000) = %q, want %q", got, want)
	}
}
