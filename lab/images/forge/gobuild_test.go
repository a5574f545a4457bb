package forge

import (
	"context"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
)

func TestRewriteStagingReplaces(t *testing.T) {
	in, err := os.ReadFile("recipes/testdata/k8s-go.mod")
	if err != nil {
		t.Fatal(err)
	}
	out, n, err := rewriteStagingReplaces(in, "v0.37.1")
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("rewrote %d replaces, want 3", n)
	}
	f, err := modfile.Parse("go.mod", out, nil)
	if err != nil {
		t.Fatalf("result does not parse: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, r := range f.Replace {
		got[r.Old.Path] = r.New.Path + "@" + r.New.Version
	}
	want := map[string]string{
		"k8s.io/api":            "k8s.io/api@v0.37.1",
		"k8s.io/client-go":      "k8s.io/client-go@v0.37.1",
		"k8s.io/component-base": "k8s.io/component-base@v0.37.1",
		// Not staging: left alone.
		"github.com/example/fork": "github.com/example/fork@v1.2.3",
		"k8s.io/local-only":       "../elsewhere/local-only@",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("replaces:\n got %v\nwant %v", got, want)
	}
	if strings.Contains(string(out), "./staging/") {
		t.Errorf("a ./staging replace is left:\n%s", out)
	}
	if f.Go == nil || f.Go.Version != "1.26.0" || len(f.Require) != 5 {
		t.Errorf("go line or requires changed:\n%s", out)
	}
}

func TestRewriteStagingReplacesErrors(t *testing.T) {
	if _, _, err := rewriteStagingReplaces([]byte("module x\n\ngo 1.26\n"), "v0.37.1"); err == nil ||
		!strings.Contains(err.Error(), "update the forge") {
		t.Errorf("no staging replaces: err = %v, want one that says to update the recipe", err)
	}
	in, _ := os.ReadFile("recipes/testdata/k8s-go.mod")
	if _, _, err := rewriteStagingReplaces(in, "0.37.1"); err == nil {
		t.Error("a version without v was accepted")
	}
	if _, _, err := rewriteStagingReplaces([]byte("module (\n"), "v0.37.1"); err == nil {
		t.Error("a broken go.mod was accepted")
	}
}

func TestK8sLDFlags(t *testing.T) {
	date := time.Date(2026, 9, 23, 17, 6, 22, 0, time.FixedZone("CEST", 2*3600))
	got, err := k8sLDFlags("v1.37.1", "abc123", date)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(got)
	if len(fields) < 2 || fields[0] != "-s" || fields[1] != "-w" {
		t.Errorf("ldflags do not start with -s -w: %s", got)
	}
	var xs []string
	for i, f := range fields {
		if f == "-X" && i+1 < len(fields) {
			xs = append(xs, fields[i+1])
		}
	}
	var want []string
	for _, pkg := range []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"} {
		want = append(want,
			pkg+".gitVersion=v1.37.1",
			pkg+".gitMajor=1",
			pkg+".gitMinor=37",
			pkg+".gitCommit=abc123",
			pkg+".gitTreeState=clean",
			pkg+".buildDate=2026-09-23T15:06:22Z", // UTC
		)
	}
	if !reflect.DeepEqual(xs, want) {
		t.Errorf("-X flags:\n got %q\nwant %q", xs, want)
	}
	again, _ := k8sLDFlags("v1.37.1", "abc123", date)
	if again != got {
		t.Error("ldflags are not reproducible for the same inputs")
	}
	if _, err := k8sLDFlags("1.37", "abc", date); err == nil {
		t.Error("a version without v was accepted")
	}
}

func TestCorednsMain(t *testing.T) {
	src, err := corednsMain("v1.14.6", corednsPlugins)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", src, parser.AllErrors)
	if err != nil {
		t.Fatalf("generated main does not parse: %v\n%s", err, src)
	}
	if f.Name.Name != "main" {
		t.Errorf("package %s, want main", f.Name.Name)
	}
	var imports []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		imports = append(imports, p)
	}
	for _, dir := range corednsPlugins {
		want := "github.com/coredns/coredns/plugin/" + dir
		if !slices.Contains(imports, want) {
			t.Errorf("generated main does not import %s", want)
		}
	}
	for _, want := range []string{"github.com/coredns/coredns/core/dnsserver", "github.com/coredns/coredns/coremain"} {
		if !slices.Contains(imports, want) {
			t.Errorf("generated main does not import %s", want)
		}
	}
	if len(imports) != len(corednsPlugins)+2 {
		t.Errorf("%d imports, want %d: %q", len(imports), len(corednsPlugins)+2, imports)
	}
	if !strings.Contains(src, "coremain.Run()") || !strings.Contains(src, "v1.14.6") {
		t.Errorf("generated main lacks coremain.Run or the version:\n%s", src)
	}
	// The cloud plugins are the point of trimming: they must stay out.
	for _, heavy := range []string{"route53", "azure", "clouddns", "dnstap"} {
		if slices.Contains(imports, "github.com/coredns/coredns/plugin/"+heavy) {
			t.Errorf("generated main imports the heavy plugin %s", heavy)
		}
	}
	again, _ := corednsMain("v1.14.6", corednsPlugins)
	if again != src {
		t.Error("generated main is not deterministic (map order leaked)")
	}
}

func TestKubeadmCorefileIsCovered(t *testing.T) {
	section, err := os.ReadFile("recipes/testdata/kubeadm-corefile.txt")
	if err != nil {
		t.Fatal(err)
	}
	k8s := t.TempDir()
	dir := filepath.Join(k8s, "cmd/kubeadm/app/phases/addons/dns")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifests := "package dns\n\nconst CoreDNSConfigMap = `\ndata:\n" + string(section) + "\nconst Other = `x`\n"
	if err := os.WriteFile(filepath.Join(dir, "manifests.go"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	corefile, err := kubeadmCorefile(k8s)
	if err != nil {
		t.Fatal(err)
	}
	got := corefileDirectives(corefile)
	want := []string{"errors", "health", "ready", "kubernetes", "prometheus", "forward", "cache", "loop", "reload", "loadbalance"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("directives:\n got %q\nwant %q", got, want)
	}
	for _, d := range got {
		if _, ok := corednsPlugins[d]; !ok {
			t.Errorf("kubeadm's Corefile uses %q, which corednsPlugins lacks", d)
		}
	}
	if _, err := kubeadmCorefile(t.TempDir()); err == nil {
		t.Error("a missing manifests.go gave no error")
	}
}

func TestDropImports(t *testing.T) {
	src := []byte(`package main

import (
	"fmt"

	_ "example.com/m/pkg/backend/a"
	_ "example.com/m/pkg/backend/udp"
	_ "example.com/m/pkg/backend/vxlan"
)
`)
	out, err := dropImports(src, "example.com/m/pkg/backend/a", "example.com/m/pkg/backend/udp")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "backend/a\"") || strings.Contains(string(out), "backend/udp") {
		t.Errorf("imports left:\n%s", out)
	}
	if !strings.Contains(string(out), "backend/vxlan") || !strings.Contains(string(out), `"fmt"`) {
		t.Errorf("other imports removed:\n%s", out)
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "main.go", out, 0); err != nil {
		t.Errorf("patched file does not parse: %v", err)
	}
	if _, err := dropImports(src, "example.com/m/pkg/backend/tencentvpc"); err == nil {
		t.Error("a missing import gave no error")
	}
}

// testBuilder is a goBuilder whose module lookups are answered from a
// prefilled table, so keys can be computed without the network.
func testBuilder(t *testing.T, goVersion string, sums map[string]string) *goBuilder {
	t.Helper()
	f, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b := &goBuilder{f: f, gobin: "go", goVersion: goVersion, binDir: filepath.Join(f.opts.CacheDir, "bin"),
		srcDir: filepath.Join(f.opts.CacheDir, "src"), turns: newTurnstile(1), modInfo: map[string]*moduleInfo{}}
	for id, sum := range sums {
		b.modInfo[id] = &moduleInfo{Sum: sum}
	}
	return b
}

func TestInputKeyChangesWithVersion(t *testing.T) {
	sums := map[string]string{"example.com/tool@v1.0.0": "h1:one", "example.com/tool@v1.1.0": "h1:two"}
	key := func(goVersion, version string) string {
		t.Helper()
		b := testBuilder(t, goVersion, sums)
		r := b.wrapperRecipe(wrapper{
			step: "go-tool", title: "Building tool", dir: "tool",
			mods: map[string]string{"example.com/tool": version}, pkgs: []string{"example.com/tool"},
			ldflags: "-s -w -X main.version=" + version, outputs: same("tool"),
			keyMod: "example.com/tool", keyVersion: version,
		})
		turn := -1
		spec, err := b.stepFor(context.Background(), r, &turn)
		if err != nil {
			t.Fatal(err)
		}
		return spec.key
	}
	base := key("go1.26.8", "v1.0.0")
	if base != key("go1.26.8", "v1.0.0") {
		t.Fatal("the key is not stable for the same inputs")
	}
	if base == key("go1.26.8", "v1.1.0") {
		t.Error("the key did not change with the module version")
	}
	if base == key("go1.26.9", "v1.0.0") {
		t.Error("the key did not change with the go version")
	}

	// The pinned Kubernetes version reaches the k8s key through the ldflags.
	a, _ := k8sLDFlags("v1.37.1", k8sGitCommit, time.Unix(0, 0))
	c, _ := k8sLDFlags("v1.37.2", k8sGitCommit, time.Unix(0, 0))
	if inputsKey("go-k8s", a) == inputsKey("go-k8s", c) {
		t.Error("the k8s key did not change with the Kubernetes version")
	}
}

func TestWrapperModule(t *testing.T) {
	b := testBuilder(t, "go1.26.8", nil)
	got := b.wrapperModule("etcd", map[string]string{"go.etcd.io/etcd/server/v3": "v3.7.0", "go.etcd.io/etcd/api/v3": "v3.7.0"})
	f, err := modfile.Parse("go.mod", []byte(got), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if f.Module.Mod.Path != "nodelab-forge/etcd" || f.Go.Version != "1.26.8" || len(f.Require) != 2 {
		t.Errorf("unexpected go.mod:\n%s", got)
	}
	for in, want := range map[string]string{"go1.26.8": "1.26.8", "go1.27": "1.27", "devel go1.27-abc": "1.26", "": "1.26"} {
		if got := goLine(in); got != want {
			t.Errorf("goLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteModuleKeepsSum(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	files := map[string]string{"go.mod": "module m\n", "sub/a.go": "package sub\n"}
	if err := writeModule(dir, files); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.sum"), []byte("sum\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "stale.go"), []byte("package m\n"), 0o644)
	if err := writeModule(dir, files); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "go.sum")); string(b) != "sum\n" {
		t.Error("go.sum was not kept for an unchanged go.mod")
	}
	if _, err := os.Stat(filepath.Join(dir, "stale.go")); err == nil {
		t.Error("a stale file survived")
	}
	files["go.mod"] = "module m\n\nrequire x v1.0.0\n"
	if err := writeModule(dir, files); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		t.Error("go.sum was kept although go.mod changed")
	}
}

func TestCrictlRecipeSources(t *testing.T) {
	main := stripIgnoreConstraint(crictlMain)
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", main, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name.Name != "main" || strings.Contains(main, "//go:build") {
		t.Errorf("generated main.go: package %s, constraint left: %v", f.Name.Name, strings.Contains(main, "//go:build"))
	}
	var found bool
	for _, imp := range f.Imports {
		found = found || imp.Path.Value == strconv.Quote(crictlModulePath+"/crictl")
	}
	if !found {
		t.Errorf("main.go does not import its core as %s/crictl", crictlModulePath)
	}
	core, err := parser.ParseFile(token.NewFileSet(), "crictl.go", crictlCore, 0)
	if err != nil || core.Name.Name != "crictl" {
		t.Errorf("embedded core: %v (package %v)", err, core)
	}
}

func TestCopyModule(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "vendor/x"), 0o755)
	os.MkdirAll(filepath.Join(src, "cmd"), 0o755)
	os.WriteFile(filepath.Join(src, "go.work"), []byte("go 1.26\n"), 0o444)
	os.WriteFile(filepath.Join(src, "vendor/x/x.go"), []byte("package x\n"), 0o444)
	os.WriteFile(filepath.Join(src, "cmd/run.sh"), []byte("#!/bin/sh\n"), 0o555)
	os.Chmod(filepath.Join(src, "cmd"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "cmd"), 0o755) })
	dst := filepath.Join(t.TempDir(), "copy")
	if err := copyModule(src, dst, "h1:a", "vendor", "go.work"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "vendor")); err == nil {
		t.Error("vendor was copied")
	}
	if _, err := os.Stat(filepath.Join(dst, "go.work")); err == nil {
		t.Error("go.work was copied")
	}
	st, err := os.Stat(filepath.Join(dst, "cmd/run.sh"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("cmd/run.sh: %v %v, want a writable executable", st, err)
	}
	// Same stamp: no copy (a local edit survives); new stamp: fresh copy.
	os.WriteFile(filepath.Join(dst, "cmd/run.sh"), []byte("edited"), 0o755)
	copyModule(src, dst, "h1:a")
	if b, _ := os.ReadFile(filepath.Join(dst, "cmd/run.sh")); string(b) != "edited" {
		t.Error("same stamp copied again")
	}
	copyModule(src, dst, "h1:b")
	if b, _ := os.ReadFile(filepath.Join(dst, "cmd/run.sh")); string(b) != "#!/bin/sh\n" {
		t.Error("new stamp did not copy again")
	}
}

func TestTurnstileServesInTurnOrder(t *testing.T) {
	ts := newTurnstile(1)
	ctx := context.Background()
	order := make(chan int, 4)
	var wg sync.WaitGroup
	// Arrive in the wrong order; turn 2 never comes (its step failed).
	for _, turn := range []int{3, 1, 0} {
		wg.Go(func() {
			r, err := ts.acquire(ctx, turn)
			if err != nil {
				t.Error(err)
				return
			}
			order <- turn
			r()
		})
	}
	waitFor(t, func() bool { ts.mu.Lock(); defer ts.mu.Unlock(); return len(order) == 2 && len(ts.waiting) == 1 })
	ts.pass(2)
	wg.Wait()
	close(order)
	var got []int
	for turn := range order {
		got = append(got, turn)
	}
	if !reflect.DeepEqual(got, []int{0, 1, 3}) {
		t.Errorf("served %v, want [0 1 3]", got)
	}

	// A cancelled waiter passes its turn, and the slot is not lost.
	ts = newTurnstile(1)
	hold, _ := ts.acquire(ctx, 0)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { _, err := ts.acquire(cctx, 1); done <- err }()
	waitFor(t, func() bool { ts.mu.Lock(); defer ts.mu.Unlock(); return len(ts.waiting) == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Error("a cancelled acquire succeeded")
	}
	hold()
	r, err := ts.acquire(ctx, 2)
	if err != nil {
		t.Fatalf("turn 2 after a cancelled turn 1: %v", err)
	}
	r()
	// A step outside the order runs at once.
	if r, err := ts.acquire(ctx, -1); err != nil {
		t.Error(err)
	} else {
		r()
	}
}

// waitFor spins until cond holds (the goroutine under test gets there in
// microseconds; there is no timer to tune).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

func TestSkipBlankLines(t *testing.T) {
	var out strings.Builder
	w := &skipBlankLines{w: &out}
	for _, chunk := range []string{"\n\n", "go: downloading a", " v1\n", "\n", "x\n\n"} {
		w.Write([]byte(chunk))
	}
	if got := out.String(); got != "go: downloading a v1\nx\n" {
		t.Errorf("got %q", got)
	}
}

func TestFindGoErrorSaysWhatToDo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := lookGo(filepath.Join(t.TempDir(), "go")); err == nil || !strings.Contains(err.Error(), "install Go") {
		t.Errorf("err = %v, want a hint to install Go", err)
	}
	fallback := filepath.Join(t.TempDir(), "go")
	os.WriteFile(fallback, []byte("#!/bin/sh\n"), 0o755)
	if got, err := lookGo(fallback); err != nil || got != fallback {
		t.Errorf("lookGo = %q, %v; want the fallback %s", got, err, fallback)
	}
}

func TestLockFileTakesTurns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "step.lock")
	ctx := context.Background()
	unlock, err := lockFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := lockFile(cctx, path); err == nil || !strings.Contains(err.Error(), "another forge") {
		t.Errorf("a held lock was taken, or the error does not say why: %v", err)
	}
	got := make(chan error)
	go func() {
		u, err := lockFile(ctx, path)
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Errorf("lock not handed over: %v", err)
	}
}

func TestAlignOnKubernetes(t *testing.T) {
	in, err := os.ReadFile("recipes/testdata/k8s-go.mod")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := k8sBuildList(in, "v0.37.1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"github.com/example/fork": "v1.2.3", // replaced version wins
		"github.com/spf13/cobra":  "v1.10.2",
		"k8s.io/api":              "v0.37.1", // staging
		"k8s.io/client-go":        "v0.37.1",
		"k8s.io/component-base":   "v0.37.1",
	}
	if !reflect.DeepEqual(ref, want) {
		t.Errorf("build list:\n got %v\nwant %v", ref, want)
	}
	own := map[string]string{
		"k8s.io/api":              "v0.30.0",                              // older: upgraded
		"k8s.io/client-go":        "v0.38.0",                              // newer: kept (no downgrade)
		"github.com/spf13/cobra":  "v1.10.2",                              // same: nothing to do
		"github.com/only/mine":    "v1.0.0",                               // not in Kubernetes: untouched
		"github.com/example/fork": "v1.2.3-0.20200101000000-abcdefabcdef", // pseudo-version older than v1.2.3
	}
	got := alignOn(own, ref)
	if want := map[string]string{"k8s.io/api": "v0.37.1", "github.com/example/fork": "v1.2.3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("alignOn = %v, want %v", got, want)
	}

	gomod := []byte("module m\n\ngo 1.26\n\nrequire (\n\tk8s.io/api v0.30.0\n\tgithub.com/only/mine v1.0.0\n)\n")
	out, err := withRequires(gomod, map[string]string{"k8s.io/api": "v0.37.1", "k8s.io/apimachinery": "v0.37.1"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", out, nil)
	if err != nil {
		t.Fatal(err)
	}
	reqs := map[string]string{}
	for _, r := range f.Require {
		reqs[r.Mod.Path] = r.Mod.Version
	}
	if want := map[string]string{"k8s.io/api": "v0.37.1", "k8s.io/apimachinery": "v0.37.1", "github.com/only/mine": "v1.0.0"}; !reflect.DeepEqual(reqs, want) {
		t.Errorf("withRequires: %v, want %v\n%s", reqs, want, out)
	}
}

// A Go step that finds itself up to date once it holds its lock (another
// process built it meanwhile) gives up its build turn, so the turns after
// it are served.
func TestRunStepPassesTheTurnOfAStepItDoesNotRun(t *testing.T) {
	f, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTurnstile(1)
	turn0, turn1 := 0, 1
	if err := f.markDone("built-meanwhile", "k", time.Second, Usage{}); err != nil {
		t.Fatal(err)
	}
	ran := false
	s := stepSpec{name: "built-meanwhile", title: "t", key: "k",
		run:    func(context.Context, io.Writer) error { ran = true; return nil },
		notRun: func() { ts.pass(turn0) }}
	if _, err := f.runStep(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("an up-to-date step ran")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	release, err := ts.acquire(ctx, turn1)
	if err != nil {
		t.Fatalf("turn 1 was never served after turn 0's step was skipped: %v", err)
	}
	release()

	// A step that runs keeps its turn for run to acquire and release.
	called := false
	s = stepSpec{name: "runs", title: "t", key: "k2",
		run:    func(context.Context, io.Writer) error { return nil },
		notRun: func() { called = true }}
	if _, err := f.runStep(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("notRun was called for a step that ran")
	}
}
