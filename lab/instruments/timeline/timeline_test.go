package timeline

import (
	"path/filepath"
	"testing"
	"time"
)

func TestBuildRatesSamplesMarkers(t *testing.T) {
	start := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	r := NewRecorder("failover", "writes/s", start)
	for i := 0; i < 10; i++ { // 10 ok in the first second
		r.Event("ok", start.Add(time.Duration(i)*100*time.Millisecond))
	}
	r.Event("failed", start.Add(1500*time.Millisecond))
	r.Event("failed", start.Add(1600*time.Millisecond))
	r.Sample("usage", start.Add(2*time.Second), 42)
	r.Mark(start.Add(1200*time.Millisecond), "pod-deleted", "redis-2")
	tl := r.Build(500*time.Millisecond, start.Add(2*time.Second))

	if got := tl.Total("ok", 500*time.Millisecond); got != 10 {
		t.Errorf("ok total = %v, want 10", got)
	}
	if got := tl.Total("failed", 500*time.Millisecond); got != 2 {
		t.Errorf("failed total = %v, want 2", got)
	}
	var failed Series
	for _, s := range tl.Series {
		if s.Name == "failed" {
			failed = s
		}
	}
	// Buckets of 0.5 s: the two failures fall in bucket 3 (1.5–2.0 s): 4/s.
	if len(failed.Points) != 5 || failed.Points[3].V != 4 || failed.Points[2].V != 0 {
		t.Errorf("failed points = %+v, want 5 buckets with 4/s in the fourth", failed.Points)
	}
	if len(tl.Markers) != 1 || tl.Markers[0].Kind != "pod-deleted" {
		t.Errorf("markers = %+v", tl.Markers)
	}

	p := filepath.Join(t.TempDir(), "x", "timeline.json")
	if err := tl.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Title != "failover" || len(back.Series) != 3 || !back.Start.Equal(start) {
		t.Errorf("round trip = %+v", back)
	}
}
