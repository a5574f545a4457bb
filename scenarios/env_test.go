package scenarios

import (
	"math"
	"strings"
	"testing"
)

func TestScaleFromEnv(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64 // 0: refused
	}{
		{"", 1}, {"2", 2}, {"0.5", 0.5}, {"100", 100},
		{"abc", 0}, {"-1", 0}, {"0", 0}, {"NaN", 0}, {"Inf", 0}, {"1e300", 0}, {"101", 0},
	} {
		t.Setenv(TimeoutScaleEnv, c.in)
		got, err := ScaleFromEnv()
		if c.want == 0 {
			if err == nil || !strings.Contains(err.Error(), TimeoutScaleEnv) {
				t.Errorf("%s=%q: %v, %v; want an error naming the variable", TimeoutScaleEnv, c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s=%q: %v, %v; want %v", TimeoutScaleEnv, c.in, got, err, c.want)
		}
	}
	if ValidScale(math.NaN()) {
		t.Error("ValidScale(NaN) = true")
	}
}
