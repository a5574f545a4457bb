package forge

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyPatches(t *testing.T) {
	src := t.TempDir()
	file := filepath.Join(src, "pkg", "a.go")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "package a\n\nimport \"x/dns\"\n\nfunc f() { dns.Call() }\n"
	if err := os.WriteFile(file, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	patches := []sourcePatch{
		{"pkg/a.go", "import \"x/dns\"\n", "// left out\n"},
		{"pkg/a.go", "dns.Call()", "panic(\"left out\")"},
	}
	if err := applyPatches(src, patches); err != nil {
		t.Fatalf("first apply: %v", err)
	}
	want := "package a\n\n// left out\n\nfunc f() { panic(\"left out\") }\n"
	got, _ := os.ReadFile(file)
	if string(got) != want {
		t.Fatalf("patched file:\n%s\nwant:\n%s", got, want)
	}
	// The copy is kept between runs: a second apply leaves it as it is.
	if err := applyPatches(src, patches); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if again, _ := os.ReadFile(file); string(again) != want {
		t.Fatalf("second apply changed the file:\n%s", again)
	}
	// Upstream changed: the text is neither there nor patched.
	if err := os.WriteFile(file, []byte("package a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := applyPatches(src, patches)
	if err == nil || !strings.Contains(err.Error(), "did the module change?") {
		t.Fatalf("apply to a changed file: %v, want an error that says the module changed", err)
	}
	if err := applyPatches(src, []sourcePatch{{"pkg/missing.go", "a", "b"}}); err == nil {
		t.Fatal("apply to a missing file: no error")
	}
}
