// Package forge builds every image a lab needs from pinned Go modules and
// Debian packages, with no container registry. It is the "offline image
// forge": Kubernetes and addon binaries come from the Go module proxy, the
// node OS from Debian's mirror via debootstrap, and images are assembled in
// Go and loaded into the local Docker engine.
//
// Every artifact is cached under Options.CacheDir and labelled with a hash of
// its inputs (versions, module sums, recipe revision), so a build with
// nothing changed only checks labels and stamps.
package forge

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nodelab/nodelab/lab/progress"
)

// Options configure a Forge.
type Options struct {
	// CacheDir holds work files and build outputs; default
	// $XDG_CACHE_HOME/nodelab/forge (~/.cache/nodelab/forge). Never the work tree.
	CacheDir string
	// DebianMirror for debootstrap; default: the host's apt sources, else
	// debootstrap's own default.
	DebianMirror string
	// Progress gets one line per step (nil: silent).
	Progress *progress.Reporter
	// Log gets the full build output (nil: discarded, but always kept in a
	// per-step log file under CacheDir/logs for failures).
	Log *slog.Logger
	// Verbose streams build tool output to LogWriter as well.
	Verbose bool
	// LogWriter receives verbose tool output (default os.Stderr when Verbose).
	LogWriter io.Writer
}

// Forge builds images. Create it with New.
type Forge struct {
	opts Options
	log  *slog.Logger
}

// New checks the options and prepares the cache folder.
func New(opts Options) (*Forge, error) {
	if opts.CacheDir == "" {
		dir, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		opts.CacheDir = dir
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("create forge cache %s: %w", opts.CacheDir, err)
	}
	if opts.Verbose && opts.LogWriter == nil {
		opts.LogWriter = os.Stderr
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Forge{opts: opts, log: log}, nil
}

// DefaultCacheDir is $XDG_CACHE_HOME/nodelab/forge or ~/.cache/nodelab/forge.
func DefaultCacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the forge cache: set XDG_CACHE_HOME or HOME: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "nodelab", "forge"), nil
}

// Result summarises a build.
type Result struct {
	// NodeImage is the reference of the built node image.
	NodeImage string
	// Steps lists each step with its duration and whether it was cached.
	Steps []StepResult
	// Total is the wall time of the whole build.
	Total time.Duration
	// UpToDate: the engine held the node image and the workload images
	// with the current inputs keys, so no step ran (Steps is empty).
	UpToDate bool
}

// StepResult is one step of a build.
type StepResult struct {
	Name     string
	Cached   bool
	Duration time.Duration
	// Usage is what the step cost (zero when it was up to date).
	Usage Usage
}

// ErrNotBuilt is returned by Lookup when an image has not been forged yet.
var ErrNotBuilt = errors.New("not built")
