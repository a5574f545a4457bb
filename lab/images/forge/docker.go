package forge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/nodelab/nodelab/lab/dockercli"
)

// InputsLabel is the image label holding the hash of the inputs an image
// was forged from; Lookup compares it with the current recipe's.
const InputsLabel = "dev.nodelab.forge.inputs"

// newImage assembles a linux image from layer files (gzip tar, bottom
// first) with cfg, labelled with its inputs key.
func newImage(cfg v1.Config, key string, layerFiles ...string) (v1.Image, error) {
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	cfg.Labels[InputsLabel] = key
	// Created is the build time, for `docker images`; layers stay
	// reproducible (synthTime).
	created := v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      created,
		Config:       cfg,
	})
	if err != nil {
		return nil, err
	}
	for _, p := range layerFiles {
		l, err := tarball.LayerFromFile(p)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", p, err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{
			Created: created, CreatedBy: "nodelab forge: " + filepath.Base(p)}}); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// writeArchive writes img as a docker-archive tarball tagged ref, atomically.
func writeArchive(p, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write image archive %s: %w", p, err)
	}
	return os.Rename(tmp, p)
}

// dockerLoadImage streams img into `docker load` as ref.
func (f *Forge) dockerLoadImage(ctx context.Context, log io.Writer, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	defer pr.Close()
	return f.dockerLoad(ctx, log, ref, pr)
}

// dockerLoadFile loads a docker-archive file as ref.
func (f *Forge) dockerLoadFile(ctx context.Context, log io.Writer, ref, archive string) error {
	fh, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer fh.Close()
	return f.dockerLoad(ctx, log, ref, fh)
}

// dockerLoad runs docker load and then removes the image ref named before,
// if nothing else uses it, so rebuilds do not pile up dangling images.
func (f *Forge) dockerLoad(ctx context.Context, log io.Writer, ref string, archive io.Reader) error {
	old, _ := imageID(ctx, ref)
	if err := f.exec(ctx, log, command{in: archive}, "docker", "load"); err != nil {
		return fmt.Errorf("load %s into Docker: %w", ref, err)
	}
	f.removeReplaced(ctx, log, ref, old)
	return nil
}

// removeReplaced removes image old if ref no longer points at it and it has
// no other tag; errors only go to the log.
func (f *Forge) removeReplaced(ctx context.Context, log io.Writer, ref, old string) {
	if old == "" {
		return
	}
	if now, _ := imageID(ctx, ref); now == old {
		return
	}
	out, err := dockercli.Run(ctx, "image", "inspect", "-f", "{{len .RepoTags}}", old)
	if err != nil || out != "0" {
		return
	}
	if err := f.exec(ctx, log, command{}, "docker", "image", "rm", old); err != nil {
		fmt.Fprintf(log, "keeping replaced image %s: %v\n", old, err)
	}
}

// imageID returns the ID of a local image, "" if there is none.
func imageID(ctx context.Context, ref string) (string, error) {
	return dockercli.Run(ctx, "image", "inspect", "-f", "{{.Id}}", ref)
}

// errNoImage is returned by imageLabel when the engine has no such image.
var errNoImage = errors.New("no such image")

// imageLabel returns an image's InputsLabel in the local engine.
func imageLabel(ctx context.Context, ref string) (string, error) {
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "image", "inspect", "-f",
		`{{ index .Config.Labels "`+InputsLabel+`" }}`, ref)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if strings.Contains(strings.ToLower(msg), "no such image") {
			return "", errNoImage
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && !strings.Contains(msg, "Cannot connect to the Docker daemon") {
			return "", fmt.Errorf("docker image inspect %s: %s", ref, msg)
		}
		return "", fmt.Errorf("no Docker engine (%w %s): start dockerd and retry", err, msg)
	}
	v := strings.TrimSpace(out.String())
	if v == "<no value>" {
		v = ""
	}
	return v, nil
}

// imageHasKey reports whether the engine has ref labelled with key.
func (f *Forge) imageHasKey(ctx context.Context, ref, key string) bool {
	got, err := imageLabel(ctx, ref)
	return err == nil && got == key
}

// imageSize is an image's size in bytes as Docker reports it.
func imageSize(ctx context.Context, ref string) (int64, error) {
	out, err := dockercli.Run(ctx, "image", "inspect", "-f", "{{.Size}}", ref)
	if err != nil {
		return 0, err
	}
	var n int64
	_, err = fmt.Sscan(out, &n)
	return n, err
}

// cleanupContext is a fresh short context for removing what a cancelled
// step created.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), cleanupTimeout)
}

// humanSize prints bytes as "712.4 MB".
func humanSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
}
