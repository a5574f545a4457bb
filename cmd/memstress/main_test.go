package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/nodelab/nodelab/lab/instruments/stress/procfs"
)

// asMainEnv makes the test binary behave as memstress (parent and, through
// /proc/self/exe and the inherited environment, its clients).
const asMainEnv = "NODELAB_MEMSTRESS_TEST_AS_MAIN"

// Waits in these tests. Clients start in milliseconds; the bounds allow a
// loaded 2-core host and the parent's 1 s restart delay.
const (
	waitTimeout = 5 * time.Second
	waitPolling = 20 * time.Millisecond
)

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	// Clients of a SIGKILLed parent are orphaned; as a subreaper this
	// process inherits and reaps them, so no zombie outlives the test.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "become child subreaper: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// lockedBuffer is a bytes.Buffer that os/exec can fill while a test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// memstressRun is a started memstress process.
type memstressRun struct {
	cmd            *exec.Cmd
	done           chan struct{}
	stdout, stderr lockedBuffer
}

// startMemstress starts this test binary as memstress with args. Cleanup
// kills it if it is still running.
func startMemstress(t *testing.T, args ...string) *memstressRun {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	r := &memstressRun{cmd: exec.Command(self, args...), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), asMainEnv+"=1")
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.cmd.WaitDelay = waitTimeout // leaked clients must not hold Wait on the pipes
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start memstress %s: %v", strings.Join(args, " "), err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// exitCode waits for memstress to exit and returns its exit code.
func (r *memstressRun) exitCode(t *testing.T) int {
	t.Helper()
	NewWithT(t).Eventually(r.done).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(BeClosed(),
		"memstress %v did not exit; stderr: %s", r.cmd.Args[1:], &r.stderr)
	return r.cmd.ProcessState.ExitCode()
}

// holding waits until n clients have reported that they hold their memory.
func (r *memstressRun) holding(t *testing.T, n int) {
	t.Helper()
	NewWithT(t).Eventually(func() int { return strings.Count(r.stdout.String(), "until signalled") }).
		WithTimeout(waitTimeout).WithPolling(waitPolling).Should(BeNumerically(">=", n),
		"memstress %v: fewer than %d clients hold their memory; stdout: %s stderr: %s", r.cmd.Args[1:], n, &r.stdout, &r.stderr)
}

// clients returns the live (non-zombie) clients of the parent.
func (r *memstressRun) clients() ([]procfs.Stat, error) {
	kids, err := procfs.Children(r.cmd.Process.Pid)
	live := kids[:0]
	for _, k := range kids {
		if k.State != 'Z' {
			live = append(live, k)
		}
	}
	return live, err
}

// eventuallyGone waits until every process in list has exited, reaping
// those orphaned to this (subreaper) process.
func eventuallyGone(t *testing.T, list ...procfs.Stat) {
	t.Helper()
	for _, s := range list {
		NewWithT(t).Eventually(func() (bool, error) {
			now, err := procfs.ReadStat(s.PID)
			if err == nil && now.StartTime == s.StartTime && now.State == 'Z' && now.PPID == os.Getpid() {
				_, _ = unix.Wait4(s.PID, nil, unix.WNOHANG, nil)
			}
			return procfs.Running(s)
		}).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(BeFalse(),
			"client %d (%s) is still running", s.PID, s.Comm)
	}
}
