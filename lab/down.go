package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/nodelab/nodelab/lab/nlbnet"
)

// DownOptions configure Down.
type DownOptions struct {
	// StateDir as in UpOptions.
	StateDir string
}

// ErrNotOurs is wrapped by Down for a kind cluster nodelab did not create.
var ErrNotOurs = errors.New("not a nodelab lab")

// Down deletes a lab nodelab created: its NLB data-plane container (left
// by a run that crashed before closing it), node containers, kubeconfig,
// record and (if the lab created it and it is now empty) the kind network.
// It refuses kind clusters nodelab has no record of. Deleting a lab that
// does not exist succeeds.
func Down(ctx context.Context, name string, opts DownOptions) error {
	if opts.StateDir == "" {
		opts.StateDir = DefaultStateDir()
	}
	if err := CheckDocker(ctx); err != nil {
		return err
	}
	provider := cluster.NewProvider(cluster.ProviderWithDocker())
	existing, err := provider.List()
	if err != nil {
		return fmt.Errorf("list kind clusters: %w", err)
	}
	rec, err := readRecord(opts.StateDir, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if slices.Contains(existing, name) {
			return fmt.Errorf("%w: kind cluster %q has no nodelab record, so nodelab will not delete it (use `kind delete cluster --name %s` if it is yours)", ErrNotOurs, name, name)
		}
		return nil
	case err != nil:
		return err
	}
	if slices.Contains(existing, name) && rec.ControlPlaneID != "" {
		if id := containerID(ctx, name+"-control-plane"); id != "" && id != rec.ControlPlaneID {
			return fmt.Errorf("%w: kind cluster %q was re-created outside nodelab (control-plane container %.12s, record says %.12s); delete it yourself if it is yours", ErrNotOurs, name, id, rec.ControlPlaneID)
		}
	}
	// First, so that the kind network is empty when cleanup looks.
	return errors.Join(nlbnet.Remove(ctx, name), cleanup(provider, opts.StateDir, rec))
}

// Status is what `nodelab status` shows of a lab.
type Status struct {
	Record *Record
	// Exists is false when the record's cluster is gone.
	Exists bool
}

// List returns every lab nodelab has a record of, and whether it still
// exists; unreadable records come back as an error next to the others.
func List(ctx context.Context, stateDir string) ([]Status, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir()
	}
	recs, bad := Records(stateDir)
	if len(recs) == 0 {
		return nil, bad
	}
	if err := CheckDocker(ctx); err != nil {
		return nil, err
	}
	existing, err := cluster.NewProvider(cluster.ProviderWithDocker()).List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	var out []Status
	for _, r := range recs {
		out = append(out, Status{Record: r, Exists: slices.Contains(existing, r.Name)})
	}
	return out, bad
}

// Open returns a lab nodelab created and that still exists.
func Open(ctx context.Context, name, stateDir string) (*Lab, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir()
	}
	rec, err := readRecord(stateDir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no nodelab lab named %q: create it with `nodelab up`", name)
	}
	if err != nil {
		return nil, err
	}
	provider := cluster.NewProvider(cluster.ProviderWithDocker())
	return open(rec, provider)
}
