package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BinFlannelInstallConf is flannel's install-conf helper: the
// kube-flannel.yml init container runs /opt/bin/install-conf from the
// flannel image to copy the CNI config onto the node.
const BinFlannelInstallConf = "install-conf"

// goRecipeRevision is in every Go step's input key: bump it when a recipe
// changes in a way its command lines and source texts do not show.
const goRecipeRevision = "gobuild-1"

// buildSlots is how many CPU-bound builds run at once. One: on 2 cores a
// single `go build` keeps both busy, and the addons reuse the packages the
// Kubernetes build leaves in the build cache, so they must come after it.
const buildSlots = 1

// prefetchProcs is GOMAXPROCS for the module-download commands: the go
// command sizes its download pool by GOMAXPROCS, and downloads wait on the
// network, not the CPU.
const prefetchProcs = "16"

// BuildBinaries builds every Go (and the one C) binary a forge node needs,
// into CacheDir/bin, skipping what is up to date.
//
// Each logical build is its own cached step (go-k8s, go-etcd, ...). Module
// downloads for all of them start at once; the CPU-bound compiles then run
// one at a time, Kubernetes first, so the addons (whose shared dependencies
// are aligned on the Kubernetes versions) find most packages compiled.
// A step's Duration includes its wait for its turn. A failing step does
// not stop the others, so their results stay cached for the next run; the
// error joins every failure. The Binaries map is complete only when err is
// nil.
func (f *Forge) BuildBinaries(ctx context.Context) (Binaries, []StepResult, error) {
	b, err := f.newGoBuilder(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("build binaries: %w", err)
	}
	recipes := b.recipes()
	specs := make([]stepSpec, len(recipes))
	turns := make([]int, len(recipes))
	next := 0
	for i, r := range recipes {
		spec, err := b.stepFor(ctx, r, &turns[i])
		if err != nil {
			return nil, nil, fmt.Errorf("build binaries: %s: %w", r.name, err)
		}
		// Turns go to the steps that will run, in recipe order; a step
		// that is up to date must not hold the others back.
		turns[i] = -1
		if !f.upToDate(spec.name, spec.key) || !spec.present(ctx) {
			turns[i] = next
			next++
		}
		specs[i] = spec
	}
	results := make([]StepResult, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i := range specs {
		wg.Go(func() { results[i], errs[i] = f.runStep(ctx, specs[i]) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Every unfinished step failed the same way; say it once.
		done := 0
		for _, e := range errs {
			if e == nil {
				done++
			}
		}
		return nil, results, fmt.Errorf("build binaries: interrupted with %d of %d steps done (finished steps stay cached): %w", done, len(errs), ctx.Err())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, results, fmt.Errorf("build binaries: %w", err)
	}
	bins := Binaries{}
	for _, r := range recipes {
		for _, o := range r.outputs {
			bins[o.name] = b.binPath(o.name)
		}
	}
	return bins, results, nil
}

// goRecipe is one logical Go build: a step with its own stamp and log.
type goRecipe struct {
	// name is the step name (go-k8s); title its progress line.
	name, title string
	// outputs are the files the build leaves in its temp folder and the
	// Bin* names they are installed under.
	outputs []output
	// inputs returns what the outputs depend on besides the go version
	// and goRecipeRevision; it may resolve the top module (cheap once the
	// module is in the module cache).
	inputs func(ctx context.Context) ([]string, error)
	// prepare lays out the sources and downloads modules (network-bound).
	prepare func(ctx context.Context, log io.Writer) error
	// build compiles into tmp (CPU-bound); it runs in a build slot.
	build func(ctx context.Context, log io.Writer, tmp string) error
}

// output maps a file the build writes (from) to its Bin* name.
type output struct{ from, name string }

// same is an output whose built name is already its Bin* name.
func same(names ...string) []output {
	out := make([]output, len(names))
	for i, n := range names {
		out[i] = output{from: n, name: n}
	}
	return out
}

// goBuilder holds what every Go recipe needs.
type goBuilder struct {
	f *Forge
	// gobin is the go command; goVersion its `go env GOVERSION`.
	gobin, goVersion string
	// binDir is CacheDir/bin; srcDir is CacheDir/src.
	binDir, srcDir string
	turns          *turnstile

	modMu   sync.Mutex
	modInfo map[string]*moduleInfo
}

func (f *Forge) newGoBuilder(ctx context.Context) (*goBuilder, error) {
	gobin, err := findGo()
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, gobin, "env", "GOVERSION").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOVERSION: %w: check the Go installation (%s)", err, gobin)
	}
	binDir, err := f.workDir("bin")
	if err != nil {
		return nil, fmt.Errorf("create bin folder: %w", err)
	}
	srcDir, err := f.workDir("src")
	if err != nil {
		return nil, fmt.Errorf("create src folder: %w", err)
	}
	return &goBuilder{
		f:         f,
		gobin:     gobin,
		goVersion: strings.TrimSpace(string(out)),
		binDir:    binDir,
		srcDir:    srcDir,
		turns:     newTurnstile(buildSlots),
		modInfo:   map[string]*moduleInfo{},
	}, nil
}

// findGo finds the go command on PATH or in its default install place.
func findGo() (string, error) { return lookGo("/usr/local/go/bin/go") }

func lookGo(fallback string) (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback, nil
	}
	return "", fmt.Errorf("go not found on PATH or at %s: install Go 1.26 (see README) and retry", fallback)
}

// recipes lists every Go build, Kubernetes first: it is the longest, so it
// gets the first build slot as soon as its modules are in.
func (b *goBuilder) recipes() []goRecipe {
	return []goRecipe{
		b.k8sRecipe(),
		b.corednsRecipe(),
		b.localPathRecipe(),
		b.etcdRecipe(),
		b.flannelRecipe(),
		b.crictlRecipe(),
		b.flannelCNIRecipe(),
		b.pauseRecipe(),
	}
}

func (b *goBuilder) binPath(name string) string { return filepath.Join(b.binDir, name) }

// stepFor turns a recipe into a forge step: key, presence check, and a run
// that prefetches, waits for its turn (*turn, set by the caller before the
// step runs) at a build slot, builds into a temp folder and
// renames the outputs into place, so a cancelled build never leaves a
// complete-looking binary.
func (b *goBuilder) stepFor(ctx context.Context, r goRecipe, turn *int) (stepSpec, error) {
	parts, err := r.inputs(ctx)
	if err != nil {
		return stepSpec{}, err
	}
	parts = append([]string{r.name, goRecipeRevision, b.goVersion, goTags, goGCFlags}, parts...)
	for _, o := range r.outputs {
		parts = append(parts, "out:"+o.from+">"+o.name)
	}
	return stepSpec{
		name:   r.name,
		title:  r.title,
		key:    inputsKey(parts...),
		notRun: func() { b.turns.pass(*turn) },
		present: func(context.Context) bool {
			for _, o := range r.outputs {
				if st, err := os.Stat(b.binPath(o.name)); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
					return false
				}
			}
			return true
		},
		run: func(ctx context.Context, log io.Writer) error {
			// Another forge process building the same step would share the
			// source and temp folders: take turns.
			unlock, err := lockFile(ctx, filepath.Join(b.srcDir, "."+r.name+".lock"))
			if err != nil {
				b.turns.pass(*turn)
				return err
			}
			defer unlock()
			start := time.Now()
			if err := r.prepare(ctx, log); err != nil {
				b.turns.pass(*turn)
				return fmt.Errorf("prepare: %w", err)
			}
			prepared := time.Now()
			release, err := b.turns.acquire(ctx, *turn)
			if err != nil {
				return fmt.Errorf("wait for a build slot: %w", err)
			}
			defer release()
			building := time.Now()
			tmp := filepath.Join(b.binDir, ".tmp-"+r.name)
			if err := os.RemoveAll(tmp); err != nil {
				return fmt.Errorf("clean %s: %w", tmp, err)
			}
			if err := os.MkdirAll(tmp, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", tmp, err)
			}
			defer os.RemoveAll(tmp)
			if err := r.build(ctx, log, tmp); err != nil {
				return err
			}
			for _, o := range r.outputs {
				if err := os.Rename(filepath.Join(tmp, o.from), b.binPath(o.name)); err != nil {
					return fmt.Errorf("install %s: %w", o.name, err)
				}
			}
			fmt.Fprintf(log, "# timing: prepare %s, wait %s, build %s\n",
				prepared.Sub(start).Round(time.Second), building.Sub(prepared).Round(time.Second),
				time.Since(building).Round(time.Second))
			m := meterFrom(ctx)
			m.phase("prepare", prepared.Sub(start))
			m.phase("wait", building.Sub(prepared))
			m.phase("build", time.Since(building))
			return nil
		},
	}, nil
}

// goEnv is the environment of every go command the forge runs: static,
// reproducible, and never fetching a toolchain.
func goEnv(extra ...string) []string {
	return append([]string{
		"CGO_ENABLED=0",
		"GOFLAGS=-mod=mod -buildvcs=false",
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"GOOS=linux",
		"GOARCH=amd64",
	}, extra...)
}

// goTags are the build tags of every Go build: the Kubernetes release tags
// (hack/lib/golang.sh). The addons get them too because tags are part of
// every compiled package's cache key, and they are harmless there
// (selinux: the real go-selinux; grpcnotrace: grpc without x/net/trace).
const goTags = "selinux,notest,grpcnotrace"

// goGCFlags skip DWARF generation in the compiler: the binaries are
// linked with -w (no DWARF) anyway, so the output is the same and a cold
// build needs about a tenth less CPU.
const goGCFlags = "all=-dwarf=false"

// goBuild builds pkgs in the module at dir into outDir, statically, with
// paths trimmed and the forge's tags.
func (b *goBuilder) goBuild(ctx context.Context, log io.Writer, dir, ldflags, outDir string, pkgs ...string) error {
	args := []string{"build", "-trimpath", "-tags", goTags, "-gcflags", goGCFlags, "-ldflags", ldflags, "-o", outDir + "/"}
	return b.goCmd(ctx, log, dir, nil, append(args, pkgs...)...)
}

// goCmd runs the go command in dir with the forge's environment. A `go
// build` inside a step also writes its action graph, read into the step's
// usage (what compiled, what came from the build cache, link time).
func (b *goBuilder) goCmd(ctx context.Context, log io.Writer, dir string, env []string, args ...string) error {
	graph := ""
	if len(args) > 0 && args[0] == "build" && meterFrom(ctx) != nil {
		if fh, err := os.CreateTemp(b.binDir, ".actiongraph-*.json"); err == nil {
			graph = fh.Name()
			fh.Close()
			defer os.Remove(graph)
			args = append([]string{"build", "-debug-actiongraph=" + graph}, args[1:]...)
		}
	}
	// Only compiles yield the CPU: the steps a background build shares
	// with the node image (the Debian root filesystem) must not crawl
	// while the node image waits for them.
	c := command{dir: dir, env: goEnv(env...), nice: lowPriority(ctx)}
	if err := b.f.exec(ctx, log, c, b.gobin, args...); err != nil {
		return err
	}
	if graph != "" {
		g, err := readActionGraph(graph)
		if err != nil {
			fmt.Fprintf(log, "# go usage not read: %v\n", err)
			return nil
		}
		meterFrom(ctx).addGo(g)
	}
	return nil
}

// prefetch downloads every module the packages need, with a wide download
// pool; it compiles nothing.
func (b *goBuilder) prefetch(ctx context.Context, log io.Writer, dir string, tags string, pkgs ...string) error {
	args := []string{"list", "-deps", "-test=false", "-f", "{{if false}}{{end}}"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, pkgs...)
	// The template prints nothing, so the log keeps only the download lines.
	return b.f.exec(ctx, &skipBlankLines{w: log}, command{dir: dir, env: goEnv("GOMAXPROCS=" + prefetchProcs)}, b.gobin, args...)
}

// skipBlankLines drops empty lines, such as the one `go list -f` prints
// per package when the template is empty.
type skipBlankLines struct {
	w       io.Writer
	midLine bool
}

func (s *skipBlankLines) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p))
	for _, c := range p {
		if c == '\n' && !s.midLine {
			continue
		}
		out = append(out, c)
		s.midLine = c != '\n'
	}
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// moduleInfo is the part of `go mod download -json` the forge uses.
type moduleInfo struct {
	Path, Version, Dir, GoMod, Sum, GoModSum, Info, Error string
}

// module resolves path@version through the module cache, downloading it
// when needed (one small zip; the deps come later in prepare).
func (b *goBuilder) module(ctx context.Context, path, version string) (*moduleInfo, error) {
	id := path + "@" + version
	b.modMu.Lock()
	defer b.modMu.Unlock()
	if m, ok := b.modInfo[id]; ok {
		return m, nil
	}
	cmd := exec.CommandContext(ctx, b.gobin, "mod", "download", "-json", id)
	cmd.Env = append(os.Environ(), goEnv()...)
	cmd.Dir = b.srcDir
	out, err := cmd.Output()
	var m moduleInfo
	if jerr := json.Unmarshal(out, &m); jerr != nil {
		if err == nil {
			err = jerr
		}
		return nil, fmt.Errorf("go mod download %s: %w: check GOPROXY (go env GOPROXY) and the network", id, err)
	}
	if m.Error != "" {
		return nil, fmt.Errorf("go mod download %s: %s: check GOPROXY (go env GOPROXY) and that the version exists", id, m.Error)
	}
	b.modInfo[id] = &m
	return &m, nil
}

// moduleTime is the commit time the proxy records for a module version.
func moduleTime(m *moduleInfo) (time.Time, error) {
	raw, err := os.ReadFile(m.Info)
	if err != nil {
		return time.Time{}, fmt.Errorf("read module info: %w", err)
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(raw, &info); err != nil {
		return time.Time{}, fmt.Errorf("parse module info %s: %w", m.Info, err)
	}
	if info.Time.IsZero() {
		return time.Time{}, fmt.Errorf("parse module info %s: no time", m.Info)
	}
	return info.Time.UTC(), nil
}

// writeModule replaces dir with a generated module made of files (name →
// content); go.sum is kept when the go.mod is unchanged so a re-run does
// not resolve the graph again.
func writeModule(dir string, files map[string]string) error {
	oldMod, _ := os.ReadFile(filepath.Join(dir, ".forge-go.mod"))
	oldSum, sumErr := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			return err
		}
	}
	if mod, ok := files["go.mod"]; ok {
		if err := os.WriteFile(filepath.Join(dir, ".forge-go.mod"), []byte(mod), 0o644); err != nil {
			return err
		}
		if sumErr == nil && string(oldMod) == mod {
			if err := os.WriteFile(filepath.Join(dir, "go.sum"), oldSum, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyModule copies a read-only module cache folder to a writable dst,
// skipping top-level entries in skip. A marker file holding stamp makes a
// second copy of the same source a no-op; files the build changed (go.mod,
// go.sum) are the caller's to rewrite.
func copyModule(src, dst, stamp string, skip ...string) error {
	marker := filepath.Join(dst, ".forge-source")
	if b, err := os.ReadFile(marker); err == nil && string(b) == stamp {
		return nil
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("clean %s: %w", dst, err)
	}
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if skipped[rel] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, target)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return os.WriteFile(marker, []byte(stamp), 0o644)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if st.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// turnstile hands out build slots strictly in turn order: turn i is
// served only after every lower turn has been served or has passed. Go
// recipes share compiled packages through the build cache, so Kubernetes
// (turn 0) must finish before the aligned addons compile, or they would
// compile the same packages a second time.
type turnstile struct {
	mu      sync.Mutex
	free    int
	next    int
	passed  map[int]bool
	waiting map[int]chan struct{}
}

func newTurnstile(slots int) *turnstile {
	return &turnstile{free: slots, passed: map[int]bool{}, waiting: map[int]chan struct{}{}}
}

// acquire waits for turn's slot; release must be called once the work is
// done. A negative turn (a step that was thought up to date) runs at once.
func (t *turnstile) acquire(ctx context.Context, turn int) (release func(), err error) {
	if turn < 0 {
		return func() {}, nil
	}
	ch := make(chan struct{})
	t.mu.Lock()
	t.waiting[turn] = ch
	t.dispatch()
	t.mu.Unlock()
	select {
	case <-ch:
		return t.release, nil
	case <-ctx.Done():
		t.mu.Lock()
		if _, ok := t.waiting[turn]; ok {
			delete(t.waiting, turn)
			t.passed[turn] = true
			t.dispatch()
			t.mu.Unlock()
			return nil, ctx.Err()
		}
		t.mu.Unlock()
		t.release() // served while being cancelled: hand the slot on
		return nil, ctx.Err()
	}
}

// pass gives up a turn that will never acquire (its step failed first).
func (t *turnstile) pass(turn int) {
	if turn < 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.passed[turn] = true
	t.dispatch()
}

func (t *turnstile) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.free++
	t.dispatch()
}

// dispatch serves turns in order while slots are free; t.mu is held.
func (t *turnstile) dispatch() {
	for t.free > 0 {
		if t.passed[t.next] {
			delete(t.passed, t.next)
			t.next++
			continue
		}
		ch, ok := t.waiting[t.next]
		if !ok {
			return
		}
		delete(t.waiting, t.next)
		t.free--
		t.next++
		close(ch)
	}
}

// lockFile takes an exclusive flock on path, waiting for another process
// to release it; ctx cancels the wait.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	fd, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		return func() { fd.Close() }, nil
	}
	locked := make(chan error, 1)
	go func() { locked <- syscall.Flock(int(fd.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-locked:
		if err != nil {
			fd.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return func() { fd.Close() }, nil
	case <-ctx.Done():
		// Closing the file drops the lock if the goroutine gets it later.
		go func() {
			if err := <-locked; err != nil {
				_ = fd.Close() // never locked
				return
			}
			_ = fd.Close() // drops the lock it got too late
		}()
		return nil, fmt.Errorf("wait for another forge building the same step (lock %s): %w", path, ctx.Err())
	}
}
