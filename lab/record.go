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

func readRecord(stateDir, name string) (*Record, error) {
	b, err := os.ReadFile(filepath.Join(labDir(stateDir, name), "lab.json"))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read lab record for %s: %w", name, err)
	}
	return &r, nil
}

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

// Records lists every lab nodelab has a record of.
func Records(stateDir string) ([]*Record, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir, "labs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, e := range entries {
		if r, err := readRecord(stateDir, e.Name()); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}
