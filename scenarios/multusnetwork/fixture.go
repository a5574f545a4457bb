package multusnetwork

import (
	"context"
	"testing/fstest"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/manifest"
)

// apply applies a fixture in the scenario's namespace, after edit.
func (r *Runbook) apply(ctx context.Context, path string, edit func(string) string) error {
	data, err := fixtures.FS.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(data)
	if edit != nil {
		s = edit(s)
	}
	objs, err := manifest.Decode(mapFS(path, s), path)
	if err != nil {
		return err
	}
	ap, err := manifest.NewApplier(r.Lab.Config)
	if err != nil {
		return err
	}
	return ap.Apply(ctx, objs, manifest.InNamespace(r.Namespace))
}

func mapFS(path, data string) fstest.MapFS {
	return fstest.MapFS{path: {Data: []byte(data)}}
}
