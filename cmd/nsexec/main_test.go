package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/nodelab/nodelab/lab/instruments/stress/procfs"
)

// asMainEnv makes the test binary behave as nsexec, so the tests run the
// real program without building it separately.
const asMainEnv = "NODELAB_NSEXEC_TEST_AS_MAIN"

// Waits in these tests: processes start and die in milliseconds; the
// bounds only matter on a loaded 2-core host.
const (
	waitTimeout = 5 * time.Second
	waitPolling = 20 * time.Millisecond
)

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	// A command whose nsexec was killed is orphaned; as a subreaper this
	// process inherits it (when it is in our pid namespace) and can reap
	// it, so no zombie outlives the test.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "become child subreaper: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// nsexecRun is a started nsexec process.
type nsexecRun struct {
	cmd            *exec.Cmd
	done           chan struct{}
	stdout, stderr bytes.Buffer
}

// startNsexec starts this test binary as nsexec with args. Cleanup kills
// it if it is still running.
func startNsexec(t *testing.T, args ...string) *nsexecRun {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	r := &nsexecRun{cmd: exec.Command(self, args...), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), asMainEnv+"=1")
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.cmd.WaitDelay = waitTimeout // a leaked grandchild must not hold Wait on the pipes
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start nsexec %s: %v", strings.Join(args, " "), err)
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

// exitCode waits for nsexec to exit and returns its exit code (-1 if a
// signal killed it).
func (r *nsexecRun) exitCode(t *testing.T) int {
	t.Helper()
	NewWithT(t).Eventually(r.done).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(BeClosed(),
		"nsexec %v did not exit; stderr: %s", r.cmd.Args[1:], &r.stderr)
	return r.cmd.ProcessState.ExitCode()
}

// child waits until nsexec has a child running comm and returns it.
func (r *nsexecRun) child(t *testing.T, comm string) procfs.Stat {
	t.Helper()
	var found procfs.Stat
	NewWithT(t).Eventually(func() (string, error) {
		kids, err := procfs.Children(r.cmd.Process.Pid)
		for _, k := range kids {
			if k.Comm == comm && k.State != 'Z' {
				found = k
			}
		}
		return found.Comm, err
	}).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(Equal(comm),
		"nsexec %v never ran %s; stderr: %s", r.cmd.Args[1:], comm, &r.stderr)
	return found
}

// eventuallyGone waits until s has exited, reaping it if it was orphaned
// to this (subreaper) process.
func eventuallyGone(t *testing.T, s procfs.Stat) {
	t.Helper()
	NewWithT(t).Eventually(func() (bool, error) {
		now, err := procfs.ReadStat(s.PID)
		if err == nil && now.StartTime == s.StartTime && now.State == 'Z' && now.PPID == os.Getpid() {
			_, _ = unix.Wait4(s.PID, nil, unix.WNOHANG, nil)
		}
		return procfs.Running(s)
	}).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(BeFalse(),
		"process %d (%s) is still running", s.PID, s.Comm)
}
