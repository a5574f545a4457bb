package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCapTreeKeepsTailsAndBound(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n-3)+"END"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("small.txt", 100)
	write("node1/kubelet.log", 50000)
	write("node2/containerd.log", 30000)
	before, after, err := CapTree(dir, 20000)
	if err != nil {
		t.Fatal(err)
	}
	if before != 80100 || after > 20000 || after < 19000 {
		t.Errorf("before %d after %d, want 80100 and just under 20000", before, after)
	}
	for _, name := range []string{"node1/kubelet.log", "node2/containerd.log"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if !strings.HasSuffix(string(b), "END") || len(b) > 10000 {
			t.Errorf("%s: %d bytes, want its tail within the cap", name, len(b))
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "small.txt")); len(b) != 100 {
		t.Errorf("small.txt cut to %d bytes", len(b))
	}
	note, err := os.ReadFile(filepath.Join(dir, TrimNote))
	if err != nil || !strings.Contains(string(note), "node1/kubelet.log: 9950 of 50000 bytes kept") {
		t.Errorf("note = %q, %v", note, err)
	}
	// Under the cap: untouched, no note.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, "a"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, a, err := CapTree(dir2, 10); err != nil || b != 3 || a != 3 {
		t.Errorf("CapTree under cap = %d, %d, %v", b, a, err)
	}
	if _, err := os.Stat(filepath.Join(dir2, TrimNote)); err == nil {
		t.Errorf("note written for an untrimmed folder")
	}
}
