package report

import (
	"image/color"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// gonum/plot shrinks the data area until every label fits on the canvas:
// a handful of long marker labels once left a rollout's plot empty. The
// series must stay visible however long the markers' texts are.
func TestPlotWithLongMarkersStillShowsItsSeries(t *testing.T) {
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tl := &timeline.Timeline{Version: timeline.Version, Title: "rollout", YLabel: "requests/s", Start: start}
	ok := timeline.Series{Name: "ok"}
	for i := range 120 {
		ok.Points = append(ok.Points, timeline.Point{T: start.Add(time.Duration(i) * 100 * time.Millisecond), V: 500})
	}
	tl.Series = append(tl.Series, ok)
	for i := range 11 {
		tl.Markers = append(tl.Markers, timeline.Marker{T: start.Add(time.Duration(i) * time.Second), Kind: "target-unhealthy",
			Text: "nodelab-worker(172.18.0.3:30725): Target.ResponseCodeMismatch: " + strings.Repeat("long detail ", 8)})
	}
	_, png, err := Plot(tl, filepath.Join(t.TempDir(), "p"))
	if err != nil {
		t.Fatal(err)
	}
	green := color.RGBA{G: 0x99, A: 0xff}
	st, err := AnalyzeScreenshot(png, []color.RGBA{green})
	if err != nil {
		t.Fatal(err)
	}
	if n := st.ColorPixels[green]; n < MinColorPixels {
		t.Errorf("the ok series has %d pixels in the plot, want ≥ %d: the markers' labels squeezed out the data", n, MinColorPixels)
	}
	if got := markerLabel(strings.Repeat("x", 100)); len([]rune(got)) != maxMarkerLabel || !strings.HasSuffix(got, "…") {
		t.Errorf("markerLabel = %q, want %d runes ending in …", got, maxMarkerLabel)
	}
}
