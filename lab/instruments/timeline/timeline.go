// Package timeline records what happened during a scenario over time — rates
// of outcomes (requests ok / failed per second), sampled values (working
// set, usage, limit) and markers (pod deleted, replica promoted, eviction,
// OOM kill) — and stores it as one JSON file the reports plot
// (e2e/report). Scenarios write timelines for passing runs too: they are the
// evidence that a fix works.
//
// File format (version 1):
//
//	{"version":1,"title":"...","yLabel":"...","start":"RFC3339",
//	 "series":[{"name":"ok","points":[{"t":"RFC3339Nano","v":12}]}],
//	 "markers":[{"t":"RFC3339Nano","kind":"pod-deleted","text":"redis-2"}]}
package timeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Version is the file format version.
const Version = 1

// Timeline is one plot's worth of data.
type Timeline struct {
	Version int       `json:"version"`
	Title   string    `json:"title"`
	YLabel  string    `json:"yLabel"`
	Start   time.Time `json:"start"`
	Series  []Series  `json:"series"`
	Markers []Marker  `json:"markers"`
}

// Series is one named line.
type Series struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// Point is one value at one time.
type Point struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// Marker is an event drawn as a vertical line.
type Marker struct {
	T    time.Time `json:"t"`
	Kind string    `json:"kind"`
	Text string    `json:"text"`
}

// Recorder collects events, samples and markers from concurrent goroutines.
type Recorder struct {
	mu      sync.Mutex
	title   string
	yLabel  string
	start   time.Time
	events  map[string][]time.Time
	samples map[string][]Point
	markers []Marker
}

// NewRecorder starts a recording at start.
func NewRecorder(title, yLabel string, start time.Time) *Recorder {
	return &Recorder{title: title, yLabel: yLabel, start: start, events: map[string][]time.Time{}, samples: map[string][]Point{}}
}

// Start is when the recording began.
func (r *Recorder) Start() time.Time { return r.start }

// Event counts one occurrence in series (plotted as a rate per bucket).
func (r *Recorder) Event(series string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[series] = append(r.events[series], at)
}

// Sample records a value of series (plotted as it is).
func (r *Recorder) Sample(series string, at time.Time, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples[series] = append(r.samples[series], Point{T: at, V: v})
}

// Mark records a marker.
func (r *Recorder) Mark(at time.Time, kind, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.markers = append(r.markers, Marker{T: at, Kind: kind, Text: text})
}

// Build returns the timeline: events become counts per bucket divided by
// the bucket's length in seconds (a rate per second), samples stay as they
// are, and every series covers the same buckets from start to end.
func (r *Recorder) Build(bucket time.Duration, end time.Time) *Timeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &Timeline{Version: Version, Title: r.title, YLabel: r.yLabel, Start: r.start}
	n := int(end.Sub(r.start)/bucket) + 1
	for _, name := range sortedKeys(r.events) {
		counts := make([]float64, n)
		for _, at := range r.events[name] {
			if i := int(at.Sub(r.start) / bucket); i >= 0 && i < n {
				counts[i]++
			}
		}
		s := Series{Name: name}
		for i, c := range counts {
			s.Points = append(s.Points, Point{T: r.start.Add(time.Duration(i) * bucket), V: c / bucket.Seconds()})
		}
		t.Series = append(t.Series, s)
	}
	for _, name := range sortedKeys(r.samples) {
		pts := append([]Point(nil), r.samples[name]...)
		sort.Slice(pts, func(i, j int) bool { return pts[i].T.Before(pts[j].T) })
		t.Series = append(t.Series, Series{Name: name, Points: pts})
	}
	t.Markers = append([]Marker(nil), r.markers...)
	sort.Slice(t.Markers, func(i, j int) bool { return t.Markers[i].T.Before(t.Markers[j].T) })
	return t
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Total sums a rate series back into a count (for checks and captions).
func (t *Timeline) Total(series string, bucket time.Duration) float64 {
	sum := 0.0
	for _, s := range t.Series {
		if s.Name == series {
			for _, p := range s.Points {
				sum += p.V * bucket.Seconds()
			}
		}
	}
	return sum
}

// WriteFile stores the timeline as JSON, creating the folder.
func (t *Timeline) WriteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return fmt.Errorf("write timeline: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadFile loads a timeline file and checks its version.
func ReadFile(path string) (*Timeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	var t Timeline
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("read timeline %s: %w", path, err)
	}
	if t.Version != Version {
		return nil, fmt.Errorf("read timeline %s: version %d, this nodelab reads version %d", path, t.Version, Version)
	}
	return &t, nil
}
