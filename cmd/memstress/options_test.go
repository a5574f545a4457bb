package main

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/stress"
)

func TestParseOptions(t *testing.T) {
	valid := []struct {
		name       string
		args       []string
		size       string
		workers    int
		ramp       time.Duration
		client     bool
		clientArgs []string
	}{{
		name: "what chaos-daemon passes", args: []string{"--workers", "2", "--size", "8MiB"},
		size: "8MiB", workers: 2,
		clientArgs: []string{"--size", "8MiB", "--workers", "2", "--time", "0s", "--client", "true"},
	}, {
		name: "with options: [\"--time 30s\"]", args: []string{"--workers", "1", "--size", "25%", "--time", "30s"},
		size: "25%", workers: 1, ramp: 30 * time.Second,
		clientArgs: []string{"--size", "25%", "--workers", "1", "--time", "30s", "--client", "true"},
	}, {
		name: "the client protocol", args: []string{"--size", "8MiB", "--workers", "2", "--time", "0s", "--client", "true"},
		size: "8MiB", workers: 2, client: true,
	}, {
		name: "older upstream's --client 1", args: []string{"-size=1GB", "-client", "1"},
		size: "1GB", workers: 1, client: true,
	}, {
		name: "--client false", args: []string{"--size", "1GB", "--client", "false"},
		size: "1GB", workers: 1,
	}, {
		name: "defaults", args: nil,
		size: "0KB", workers: 1,
	}}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseOptions(tc.args, io.Discard)
			if err != nil {
				t.Fatalf("parseOptions(%q): %v", tc.args, err)
			}
			if o.Size.Raw != tc.size || o.Workers != tc.workers || o.Time != tc.ramp || o.Client != tc.client {
				t.Errorf("parseOptions(%q) = size %q workers %d time %v client %v; want %q %d %v %v",
					tc.args, o.Size.Raw, o.Workers, o.Time, o.Client, tc.size, tc.workers, tc.ramp, tc.client)
			}
			if tc.clientArgs != nil && !slices.Equal(o.clientArgs(), tc.clientArgs) {
				t.Errorf("clientArgs() = %q, want %q", o.clientArgs(), tc.clientArgs)
			}
		})
	}

	invalid := []struct {
		args []string
		why  []string
	}{
		{[]string{"--workers", "0"}, []string{"--workers 0"}},
		{[]string{"--size", "8XB"}, []string{"unknown unit"}},
		{[]string{"--time", "soon"}, []string{"--time"}},
		{[]string{"--time", "-1s"}, []string{"--time"}},
		{[]string{"--size", "1MiB", "extra"}, []string{"unexpected arguments"}},
		{[]string{"--bogus"}, []string{"not defined"}},
		// Every problem at once, not the first.
		{[]string{"--workers", "-1", "--size", "x", "--time", "y"}, []string{"--workers -1", "--size", "--time"}},
	}
	for _, tc := range invalid {
		_, err := parseOptions(tc.args, io.Discard)
		for _, why := range tc.why {
			if err == nil || !strings.Contains(err.Error(), why) {
				t.Errorf("parseOptions(%q) error = %v, want it to mention %q", tc.args, err, why)
			}
		}
	}
}

func TestMakePlan(t *testing.T) {
	limit := func() (stress.Limit, error) { return stress.Limit{Bytes: 64 << 20, Source: "test"}, nil }
	cases := []struct {
		size      string
		workers   int
		perClient uint64
	}{
		{"8MiB", 2, 4 << 20},
		{"900MB", 3, 300_000_000},
		{"25%", 2, 8 << 20}, // 25% of 64 MiB, split in two
		{"10B", 3, 3},       // rounded down, as upstream
	}
	for _, tc := range cases {
		o := mustParse(t, "--size", tc.size, "--workers", strconv.Itoa(tc.workers))
		p, err := makePlan(o, limit)
		if err != nil || p.PerClient != tc.perClient {
			t.Errorf("makePlan(--size %s --workers %d) = %d each, %v; want %d", tc.size, tc.workers, p.PerClient, err, tc.perClient)
		}
	}
	for _, args := range [][]string{{"--size", "0KB"}, {"--size", "1B", "--workers", "2"}} {
		if p, err := makePlan(mustParse(t, args...), limit); err == nil {
			t.Errorf("makePlan(%q) = %+v, want an error: zero bytes per worker", args, p)
		}
	}
}

func TestPlanReportsBothUnits(t *testing.T) {
	p, err := makePlan(mustParse(t, "--size", "900MB", "--workers", "1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); !strings.Contains(got, "900.00 MB, 858.31 MiB") {
		t.Errorf("plan = %q, want MB and MiB side by side", got)
	}
}

func mustParse(t *testing.T, args ...string) options {
	t.Helper()
	o, err := parseOptions(args, io.Discard)
	if err != nil {
		t.Fatalf("parseOptions(%q): %v", args, err)
	}
	return o
}
