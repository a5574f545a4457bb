package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Usage is what one forge step cost: the CPU time of the tools it ran (go,
// gcc, debootstrap, dpkg, docker load; with their children), beside its
// wall time, and for Go builds where that CPU went (from the go command's
// own action graph). Work done inside nodelab itself (writing image layers)
// is not counted in CPU: it shows only in the wall time.
type Usage struct {
	// CPU is user + system time of the tools the step ran.
	CPU time.Duration `json:"cpu"`
	// Go sums the step's go builds; nil when it ran none.
	Go *GoUsage `json:"go,omitempty"`
	// Phases are named parts of the wall time (prepare, wait, build).
	Phases map[string]time.Duration `json:"phases,omitempty"`
}

// GoUsage is read from `go build -debug-actiongraph`.
type GoUsage struct {
	// Packages is how many non-standard packages the build needed.
	Packages int `json:"packages"`
	// Compiled packages were compiled by this build; Cached ones came from
	// the build cache (compiled by an earlier build with the same inputs:
	// another recipe sharing module versions and flags, or a previous run).
	Compiled int `json:"compiled"`
	Cached   int `json:"cached"`
	// StdCompiled counts standard-library packages compiled (a cold cache).
	StdCompiled int `json:"stdCompiled"`
	// CompileCPU is the compiler's (and cgo's, asm's) user + system time.
	CompileCPU time.Duration `json:"compileCPU"`
	// Links is how many binaries were linked; LinkCPU and LinkWall their
	// summed CPU and wall time (links run one per binary, mostly on one core).
	Links    int           `json:"links"`
	LinkCPU  time.Duration `json:"linkCPU"`
	LinkWall time.Duration `json:"linkWall"`
}

func (g *GoUsage) add(o GoUsage) {
	g.Packages += o.Packages
	g.Compiled += o.Compiled
	g.Cached += o.Cached
	g.StdCompiled += o.StdCompiled
	g.CompileCPU += o.CompileCPU
	g.Links += o.Links
	g.LinkCPU += o.LinkCPU
	g.LinkWall += o.LinkWall
}

// usageMeter collects a running step's usage; exec adds to the one in its
// context.
type usageMeter struct {
	mu sync.Mutex
	u  Usage
}

func (m *usageMeter) addCPU(d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.u.CPU += d
}

func (m *usageMeter) addGo(g GoUsage) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.u.Go == nil {
		m.u.Go = &GoUsage{}
	}
	m.u.Go.add(g)
}

func (m *usageMeter) phase(name string, d time.Duration) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.u.Phases == nil {
		m.u.Phases = map[string]time.Duration{}
	}
	m.u.Phases[name] += d
}

func (m *usageMeter) snapshot() Usage {
	if m == nil {
		return Usage{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.u
	if u.Go != nil {
		g := *u.Go
		u.Go = &g
	}
	return u
}

type meterKey struct{}

func withMeter(ctx context.Context, m *usageMeter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

func meterFrom(ctx context.Context) *usageMeter {
	m, _ := ctx.Value(meterKey{}).(*usageMeter)
	return m
}

type lowPriorityKey struct{}

// WithLowPriority marks the Go compiles of builds started with ctx to run
// at the lowest CPU priority (nice 19): a background build then takes only
// the CPU that the node image's build, the lab and the running specs leave
// idle, and a spec waiting on it is not slowed (nothing else competes
// then). Other tools (debootstrap, dpkg) keep their priority, since the
// node image may be waiting for a step they share.
func WithLowPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, lowPriorityKey{}, true)
}

func lowPriority(ctx context.Context) bool {
	v, _ := ctx.Value(lowPriorityKey{}).(bool)
	return v
}

// actionJSON is the part of one `go build -debug-actiongraph` entry the
// forge reads (cmd/go/internal/work.actionJSON).
type actionJSON struct {
	Mode    string
	Package string
	Cmd     []string
	CmdReal time.Duration
	CmdUser time.Duration
	CmdSys  time.Duration
}

// readActionGraph sums an action graph file: which packages compiled,
// which came from the cache, and what compiling and linking cost.
func readActionGraph(path string) (GoUsage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return GoUsage{}, fmt.Errorf("read go action graph: %w", err)
	}
	return parseActionGraph(b)
}

func parseActionGraph(b []byte) (GoUsage, error) {
	var actions []actionJSON
	if err := json.Unmarshal(b, &actions); err != nil {
		return GoUsage{}, fmt.Errorf("parse go action graph: %w", err)
	}
	var g GoUsage
	for _, a := range actions {
		cpu := a.CmdUser + a.CmdSys
		if strings.HasPrefix(a.Mode, "cgo compile ") {
			g.CompileCPU += cpu // gcc for cgo files
			continue
		}
		switch a.Mode {
		case "build":
			std := !strings.Contains(strings.SplitN(a.Package, "/", 2)[0], ".")
			ran := len(a.Cmd) > 0
			switch {
			case std && ran:
				g.StdCompiled++
			case std:
			case ran:
				g.Packages++
				g.Compiled++
			default:
				g.Packages++
				g.Cached++
			}
			g.CompileCPU += cpu
		case "cgo run", "collect cgo":
			g.CompileCPU += cpu
		case "link":
			if len(a.Cmd) > 0 {
				g.Links++
				g.LinkCPU += cpu
				g.LinkWall += a.CmdReal
			}
		}
	}
	return g, nil
}

// String is one line: "CPU 24m10s (1.8 cores); go: 2103 packages compiled,
// 12 cached; link 8× 2m01s CPU".
func (u Usage) String() string {
	return u.describe(0)
}

func (u Usage) describe(wall time.Duration) string {
	var parts []string
	if u.CPU > 0 {
		s := "CPU " + roundDur(u.CPU)
		if wall > 0 {
			s += fmt.Sprintf(" (%.1f cores)", u.CPU.Seconds()/wall.Seconds())
		}
		parts = append(parts, s)
	}
	if g := u.Go; g != nil {
		s := fmt.Sprintf("go: %d of %d packages compiled, %d from the build cache", g.Compiled, g.Packages, g.Cached)
		if g.StdCompiled > 0 {
			s += fmt.Sprintf(", %d std", g.StdCompiled)
		}
		if g.Links > 0 {
			s += fmt.Sprintf("; compile %s CPU; %d links %s CPU, %s wall", roundDur(g.CompileCPU), g.Links, roundDur(g.LinkCPU), roundDur(g.LinkWall))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func roundDur(d time.Duration) string {
	switch {
	case d >= showSecondsFrom:
		return d.Round(time.Second).String()
	case d >= showTenthsFrom:
		return d.Round(tenth).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

// StepCost is what a step cost when it last ran, from its stamp.
type StepCost struct {
	Name     string
	Started  time.Time
	Finished time.Time
	Wall     time.Duration
	// Usage is nil for stamps written before nodelab measured CPU.
	Usage *Usage
}

// Costs reads every step's stamp: the cost profile of the last build of
// each step, in the order they started.
func (f *Forge) Costs() ([]StepCost, error) {
	dir := filepath.Join(f.opts.CacheDir, "stamps")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read forge stamps: %w", err)
	}
	var out []StepCost
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read forge stamp: %w", err)
		}
		var s stamp
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("forge stamp %s is not valid (delete it to rebuild that step): %w", filepath.Join(dir, e.Name()), err)
		}
		wall := time.Duration(s.Seconds * float64(time.Second))
		out = append(out, StepCost{Name: name, Started: s.Finished.Add(-wall), Finished: s.Finished, Wall: wall, Usage: s.Usage})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}
