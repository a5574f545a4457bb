package oomevents

import (
	"encoding/json"
	"testing"
	"time"
)

func TestQueryCountsPerMinute(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 21, 58, 50, 0, time.UTC)
	var log [][]byte
	for _, l := range []EventLine{
		{Seen: t0, Reason: "OOMKilling", Object: "Node/w"},
		{Seen: t0.Add(5 * time.Second), Reason: "OOMKilling", Object: "Node/w"},
		{Seen: t0.Add(12 * time.Second), Reason: "OOMKilling", Object: "Node/w"},
		{Seen: t0.Add(12 * time.Second), Reason: "Evicted", Object: "Pod/burst-0"},
		{Seen: t0.Add(-time.Minute), Reason: "OOMKilling", Object: "Node/w"},
	} {
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, b)
	}
	lines, err := Query(log, t0, t0.Add(time.Minute), "OOMKilling")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 {
		t.Fatalf("got %d OOMKilling lines in the window, want 3", len(lines))
	}
	if got, want := PerMinute(lines), "21:58 OOMKilling 2, 21:59 OOMKilling 1"; got != want {
		t.Errorf("PerMinute = %q, want %q", got, want)
	}
	if got := PerMinute(nil); got != "none" {
		t.Errorf("PerMinute(nil) = %q", got)
	}
	if _, err := Query([][]byte{[]byte("not json")}, t0, t0); err == nil {
		t.Error("a line that is not JSON should be an error")
	}
}
