package forge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// recipeRevision is part of every input key: bump it when a recipe changes
// in a way its other inputs do not show.
const recipeRevision = "1"

// inputsKey hashes a step's inputs (versions, module sums, recipe text) into
// the key its outputs are labelled with.
func inputsKey(parts ...string) string {
	h := sha256.New()
	h.Write([]byte(recipeRevision))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

type stamp struct {
	Key      string    `json:"key"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`
	// Usage is what the step cost when it last ran (nodelab images profile).
	Usage *Usage `json:"usage,omitempty"`
}

func (f *Forge) stampPath(step string) string {
	return filepath.Join(f.opts.CacheDir, "stamps", step+".json")
}

// upToDate reports whether step last finished with the same inputs key.
func (f *Forge) upToDate(step, key string) bool {
	b, err := os.ReadFile(f.stampPath(step))
	if err != nil {
		return false
	}
	var s stamp
	return json.Unmarshal(b, &s) == nil && s.Key == key
}

func (f *Forge) markDone(step, key string, took time.Duration, u Usage) error {
	if err := os.MkdirAll(filepath.Dir(f.stampPath(step)), 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(stamp{Key: key, Finished: time.Now(), Seconds: took.Seconds(), Usage: &u})
	return os.WriteFile(f.stampPath(step), b, 0o644)
}

// workDir is CacheDir/<parts...>, created.
func (f *Forge) workDir(parts ...string) (string, error) {
	dir := filepath.Join(append([]string{f.opts.CacheDir}, parts...)...)
	return dir, os.MkdirAll(dir, 0o755)
}

// stepSpec describes one cached forge step.
type stepSpec struct {
	// name is the stamp and log file name ("k8s-binaries").
	name string
	// title is the progress line ("Building Kubernetes binaries").
	title string
	// key is inputsKey(...) of everything the outputs depend on.
	key string
	// present, when set, must also be true for a cached step to be skipped
	// (the outputs still exist: files on disk, an image in the engine).
	present func(ctx context.Context) bool
	// run does the work, writing tool output to log.
	run func(ctx context.Context, log io.Writer) error
	// notRun, when set, is called when runStep returns without calling run
	// (up to date after waiting for the lock, or an error before it): a Go
	// step gives up its build turn there, so the steps after it are not
	// left waiting for a turn that never comes.
	notRun func()
}

// runStep runs a step unless its stamp matches and its outputs are present.
// It holds the step's lock (CacheDir/locks/<name>.lock) throughout, so two
// builds that need the same step (the node image and a background addon
// build both need the Debian root filesystem; two test processes) never
// run it at once: the one that waited finds it up to date. Output goes to
// CacheDir/logs/<name>.log (and to LogWriter with Verbose); a failure names
// that file.
func (f *Forge) runStep(ctx context.Context, s stepSpec) (StepResult, error) {
	p := f.opts.Progress.Start(s.title)
	ran := false
	defer func() {
		if !ran && s.notRun != nil {
			s.notRun()
		}
	}()
	lockDir, err := f.workDir("locks")
	if err != nil {
		return StepResult{Name: s.name}, p.End(err)
	}
	unlock, err := lockFile(ctx, filepath.Join(lockDir, s.name+".lock"))
	if err != nil {
		return StepResult{Name: s.name}, p.End(err)
	}
	defer unlock()
	if f.upToDate(s.name, s.key) && (s.present == nil || s.present(ctx)) {
		p.Skip("up to date")
		return StepResult{Name: s.name, Cached: true, Duration: p.Elapsed()}, nil
	}
	logDir, err := f.workDir("logs")
	if err != nil {
		return StepResult{Name: s.name}, p.End(err)
	}
	logPath := filepath.Join(logDir, s.name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return StepResult{Name: s.name}, p.End(fmt.Errorf("create log: %w", err))
	}
	defer lf.Close()
	var w io.Writer = lf
	if f.opts.Verbose {
		w = io.MultiWriter(lf, f.opts.LogWriter)
	}
	start := time.Now()
	meter := &usageMeter{}
	ran = true
	err = s.run(withMeter(ctx, meter), w)
	took := time.Since(start)
	res := StepResult{Name: s.name, Duration: took, Usage: meter.snapshot()}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (interrupted: %w)", err, ctx.Err())
		}
		return res, p.End(fmt.Errorf("%s: %w (full log: %s)", s.name, err, logPath))
	}
	fmt.Fprintf(w, "# usage: wall %s; %s\n", roundDur(took), res.Usage.describe(took))
	if err := f.markDone(s.name, s.key, took, res.Usage); err != nil {
		return res, p.End(fmt.Errorf("stamp %s: %w", s.name, err))
	}
	return res, p.EndNote(nil, res.Usage.describe(took))
}

// command runs a tool with its output going to log; the error carries the
// last lines of output so it says what went wrong without the log file.
type command struct {
	dir string
	env []string
	in  io.Reader
	// nice runs the tool at nice 19 (see WithLowPriority).
	nice bool
}

func (f *Forge) exec(ctx context.Context, log io.Writer, c command, name string, args ...string) error {
	argv := append([]string{name}, args...)
	if c.nice {
		// nice(1) execs the tool, so its PID, its signals and its
		// resource usage stay the tool's own.
		if nice, err := exec.LookPath("nice"); err == nil {
			argv = append([]string{nice, "-n", "19"}, argv...)
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.Stdin = c.in
	if c.env != nil {
		cmd.Env = append(os.Environ(), c.env...)
	}
	tail := &tailBuffer{max: 2048}
	cmd.Stdout = io.MultiWriter(log, tail)
	cmd.Stderr = io.MultiWriter(log, tail)
	fmt.Fprintf(log, "+ %s %s\n", name, strings.Join(args, " "))
	// Kill the whole tool on cancel but give it a moment to clean up.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = toolCleanupDelay
	err := cmd.Run()
	if ps := cmd.ProcessState; ps != nil {
		meterFrom(ctx).addCPU(ps.UserTime() + ps.SystemTime())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), firstArg(args), err, tail.String())
		}
		return fmt.Errorf("run %s: %w", name, err)
	}
	return nil
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }
