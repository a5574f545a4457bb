package lab

import (
	"errors"
	"io/fs"
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
