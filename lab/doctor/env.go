package doctor

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Env is how checks see the host. Each field can be replaced in tests.
type Env struct {
	// ReadFile reads a whole file (os.ReadFile).
	ReadFile func(path string) ([]byte, error)
	// Stat describes a file (os.Stat).
	Stat func(path string) (fs.FileInfo, error)
	// OpenReadWrite opens a file for reading and writing and closes it,
	// to tell whether this user may use a device.
	OpenReadWrite func(path string) error
	// Statfs describes the filesystem holding path.
	Statfs func(path string) (FSInfo, error)
	// LookPath finds an executable in PATH (exec.LookPath).
	LookPath func(file string) (string, error)
	// Run runs a command and returns its standard output; the error
	// includes its standard error.
	Run func(ctx context.Context, name string, args ...string) (string, error)
}

// FSInfo is what Statfs reports.
type FSInfo struct {
	// Type is the filesystem magic number (statfs f_type).
	Type int64
	// Avail is the space available to unprivileged users, in bytes.
	Avail uint64
}

// HostEnv reads this machine.
func HostEnv() *Env {
	return &Env{
		ReadFile: os.ReadFile,
		Stat:     os.Stat,
		OpenReadWrite: func(path string) error {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			return f.Close()
		},
		Statfs:   statfs,
		LookPath: exec.LookPath,
		Run:      runCommand,
	}
}

func runCommand(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return stdout.String(), fmt.Errorf("%s: %w", name, err)
		}
		return stdout.String(), fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return stdout.String(), nil
}

// withTimeout returns a copy of env whose commands each get at most d.
func (e *Env) withTimeout(d time.Duration) *Env {
	c := *e
	run := e.Run
	c.Run = func(ctx context.Context, name string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return run(ctx, name, args...)
	}
	return &c
}
