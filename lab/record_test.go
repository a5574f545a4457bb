package lab

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodelab/nodelab/lab/profile"
)

func TestRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := profile.Default()
	r := &Record{Name: "a", Phase: PhaseReady, Profile: p, ProfileHash: p.Hash(), ControlPlaneID: "abc", Kubeconfig: KubeconfigPath(dir, "a")}
	if err := writeRecord(dir, r); err != nil {
		t.Fatal(err)
	}
	got, err := readRecord(dir, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.ProfileHash != p.Hash() || got.Profile.Hash() != p.Hash() || got.ControlPlaneID != "abc" {
		t.Errorf("read back %+v, want the written record", got)
	}
	all, err := Records(dir)
	if err != nil || len(all) != 1 {
		t.Fatalf("Records = %v, %v; want one", all, err)
	}
	if err := removeRecord(dir, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := readRecord(dir, "a"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after remove: %v, want not exist", err)
	}
}

// A record that cannot be read is reported with what to do, never skipped
// (status would say "no labs" while a cluster may still run).
func TestBadRecordsAreReported(t *testing.T) {
	dir := t.TempDir()
	if err := writeRecord(dir, &Record{Name: "good"}); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(labDir(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(labDir(dir, name), "lab.json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("corrupt", "{not json")
	write("renamed", `{"name": "other"}`)
	if err := os.MkdirAll(filepath.Join(labDir(dir, "dir"), "lab.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(labDir(dir, "empty-folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	recs, err := Records(dir)
	if len(recs) != 1 || recs[0].Name != "good" {
		t.Errorf("Records = %v, want the good one", recs)
	}
	if !errors.Is(err, ErrBadRecord) {
		t.Fatalf("Records error = %v, want ErrBadRecord", err)
	}
	for _, want := range []string{"corrupt", "renamed", `names lab "other"`, "dir", "kind delete cluster --name corrupt", "then remove " + labDir(dir, "corrupt")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Records error does not mention %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "empty-folder") {
		t.Errorf("a folder without a record is not a bad record:\n%v", err)
	}
}
