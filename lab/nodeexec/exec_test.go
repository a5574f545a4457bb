package nodeexec

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

func TestRun(t *testing.T) {
	ctx := context.Background()
	out, err := Run(ctx, localNode{}, "sh", "-c", "echo hello; echo warning >&2")
	if err != nil || out != "hello\n" {
		t.Fatalf("Run = %q, %v; want hello", out, err)
	}

	_, err = Run(ctx, localNode{}, "sh", "-c", "echo partial; echo 'it broke' >&2; exit 3")
	var ee *ExecError
	if !errors.As(err, &ee) {
		t.Fatalf("Run error %v is not an *ExecError", err)
	}
	if ee.Stderr != "it broke\n" || ee.Node != "local" || ee.Command[0] != "sh" {
		t.Errorf("ExecError = %+v", ee)
	}
	for _, want := range []string{`run sh -c 'echo partial; `, "on node local: exit status 3", "exit status 3", "it broke"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "docker") {
		t.Errorf("error repeats kind's outer command: %q", err)
	}
}

func TestRunHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, localNode{}, "sleep", "10")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run after the deadline = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s after a 100ms deadline", d)
	}
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	bin := []byte{0, 1, 2, '\n', 255, '-', '\n'}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	binPath, emptyPath := write("bin", bin), write("empty", nil)
	textPath := write("with space", []byte("max\n"))
	missing := filepath.Join(dir, "missing")

	files, err := ReadFiles(context.Background(), localNode{}, binPath, missing, emptyPath, textPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(files[binPath]) != string(bin) || string(files[textPath]) != "max\n" {
		t.Errorf("contents differ: %q", files)
	}
	if data, ok := files[emptyPath]; !ok || len(data) != 0 {
		t.Errorf("empty file: %q, present=%v", data, ok)
	}
	if _, ok := files[missing]; ok {
		t.Errorf("missing file is in the map")
	}

	if _, err := ReadFile(context.Background(), localNode{}, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want fs.ErrNotExist", err)
	}
	if data, err := ReadFile(context.Background(), localNode{}, textPath); err != nil || string(data) != "max\n" {
		t.Errorf("ReadFile = %q, %v", data, err)
	}
}

func TestParseReadFilesOutput(t *testing.T) {
	if _, err := parseReadFilesOutput("aGk=\n", []string{"a", "b"}); err == nil {
		t.Error("one line for two files: no error")
	}
	if _, err := parseReadFilesOutput("not base64!\n", []string{"a"}); err == nil || !strings.Contains(err.Error(), "a") {
		t.Errorf("bad base64: %v", err)
	}
	got, err := parseReadFilesOutput("aGk=\n-\n\n", []string{"a", "b", "c"})
	if err != nil || string(got["a"]) != "hi" || got["c"] == nil || len(got) != 2 {
		t.Errorf("parse = %q, %v", got, err)
	}
}

// kind's nodes satisfy Node.
var _ Node = nodes.Node(nil)
