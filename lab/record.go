package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nodelab/nodelab/lab/profile"
)

// Record is what nodelab keeps about a lab it created, in
// <state dir>/labs/<name>/lab.json. A kind cluster without a record was not
// made by nodelab, so Down never deletes it.
type Record struct {
	Name        string           `json:"name"`
	Phase       string           `json:"phase"` // creating, ready
	Profile     *profile.Profile `json:"profile"`
	ProfileHash string           `json:"profileHash"`
	NodeImage   string           `json:"nodeImage"`
	ImageSource string           `json:"imageSource"`
	ImageReason string           `json:"imageReason"`
	Created     time.Time        `json:"created"`
	// ControlPlaneID ties the record to the containers it describes: a
	// cluster re-created by someone else under the same name does not match.
	ControlPlaneID string `json:"controlPlaneID,omitempty"`
	// CreatedNetwork is true when the kind docker network did not exist
	// before this lab, so deleting the lab may remove it.
	CreatedNetwork bool   `json:"createdNetwork"`
	Kubeconfig     string `json:"kubeconfig"`
}

// Record phases.
const (
	PhaseCreating = "creating"
	PhaseReady    = "ready"
)

// DefaultStateDir is $XDG_STATE_HOME/nodelab or ~/.local/state/nodelab.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "nodelab")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "nodelab-state")
	}
	return filepath.Join(home, ".local", "state", "nodelab")
}

func labDir(stateDir, name string) string { return filepath.Join(stateDir, "labs", name) }

// KubeconfigPath is where nodelab writes a lab's kubeconfig; it never edits
// the user's ~/.kube/config.
func KubeconfigPath(stateDir, name string) string {
	return filepath.Join(labDir(stateDir, name), "kubeconfig")
}

// readRecord reads a lab's record; a missing one wraps fs.ErrNotExist. A
// record that cannot be read or decoded is an ErrBadRecord saying how to
// get rid of it: without it nodelab cannot tell what the lab is.
func readRecord(stateDir, name string) (*Record, error) {
	path := filepath.Join(labDir(stateDir, name), "lab.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		var r Record
		if err = json.Unmarshal(b, &r); err == nil && r.Name != name {
			err = fmt.Errorf("it names lab %q", r.Name)
		}
		if err == nil {
			return &r, nil
		}
	}
	return nil, fmt.Errorf("%w %s (%w): if `kind get clusters` lists %s, delete it with `kind delete cluster --name %s`; then remove %s",
		ErrBadRecord, path, err, name, name, labDir(stateDir, name))
}

// ErrBadRecord is wrapped by errors about a lab record that exists but
// cannot be read or decoded.
var ErrBadRecord = errors.New("unreadable lab record")

func writeRecord(stateDir string, r *Record) error {
	dir := labDir(stateDir, r.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write lab record: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "lab.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write lab record: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "lab.json"))
}

func removeRecord(stateDir, name string) error {
	err := os.RemoveAll(labDir(stateDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Records lists every lab nodelab has a record of. Records that cannot be
// read are not skipped silently: they come back as an error (wrapping
// ErrBadRecord) next to the readable ones.
func Records(stateDir string) ([]*Record, error) {
	dir := filepath.Join(stateDir, "labs")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lab records: %w; the state folder (--state-dir, default $XDG_STATE_HOME/nodelab) must be a folder nodelab can read and write", err)
	}
	var out []*Record
	var bad []error
	for _, e := range entries {
		r, err := readRecord(stateDir, e.Name())
		switch {
		case err == nil:
			out = append(out, r)
		case !errors.Is(err, fs.ErrNotExist): // a folder without a record is left over from a removal
			bad = append(bad, err)
		}
	}
	return out, errors.Join(bad...)
}
