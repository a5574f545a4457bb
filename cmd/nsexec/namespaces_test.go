package main

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/instruments/stress/procfs"
)

// newPidNamespace creates a pid namespace owned by the test, with its own
// mount (and /proc), network, IPC and cgroup namespaces: util-linux unshare
// forks `sleep 60` as its init. It returns the init; cleanup kills
// it, which ends everything in the namespace. It skips, with the reason,
// when the host cannot create one.
func newPidNamespace(t *testing.T) procfs.Stat {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("requires util-linux unshare to create a pid namespace (%v)", err)
	}
	cmd := exec.Command(unshare, "--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--cgroup", "sleep", "60")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Skipf("requires util-linux unshare to create a pid namespace (%v)", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var init procfs.Stat
	g := NewWithT(t)
	g.Eventually(func() (bool, error) {
		select {
		case err := <-done:
			t.Skipf("requires permission to create namespaces (%s: %v: %s)", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(stderr.Bytes()))
		default:
		}
		kids, err := procfs.Children(cmd.Process.Pid)
		for _, k := range kids {
			if k.Comm == "sleep" {
				init = k
			}
		}
		return init.PID != 0, err
	}).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(BeTrue(), "unshare never started its init")
	t.Cleanup(func() {
		_ = syscall.Kill(init.PID, syscall.SIGKILL)
		g.Eventually(done).WithTimeout(waitTimeout).WithPolling(waitPolling).Should(Receive(), "unshare did not exit after its init was killed")
	})
	if nsLink(t, init.PID) == nsLink(t, os.Getpid()) {
		t.Fatalf("unshare's child %d is in the test's own pid namespace", init.PID)
	}
	return init
}

// nsLink names the pid namespace of pid, e.g. "pid:[4026532178]".
func nsLink(t *testing.T, pid int) string {
	t.Helper()
	return nsLinkOf(t, pid, "pid")
}

func nsLinkOf(t *testing.T, pid int, kind string) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + kind)
	if err != nil {
		t.Fatalf("read %s namespace of %d: %v", kind, pid, err)
	}
	return l
}

// TestEntersNamespaces runs what StressChaos runs, nsexec -p
// /proc/<PID>/ns/pid -- CMD, and the other namespace flags, against
// namespaces the test owns.
func TestEntersNamespaces(t *testing.T) {
	init := newPidNamespace(t)
	target := "/proc/" + strconv.Itoa(init.PID) + "/ns/pid"

	t.Run("the command is born in the namespace", func(t *testing.T) {
		r := startNsexec(t, "-p", target, "--", "sh", "-c", "echo $$; readlink /proc/self/ns/pid")
		if code := r.exitCode(t); code != 0 {
			t.Fatalf("nsexec exit code = %d, want 0; stderr: %s", code, &r.stderr)
		}
		lines := strings.Fields(r.stdout.String())
		if len(lines) != 2 {
			t.Fatalf("output %q, want the shell's pid and its pid namespace", r.stdout.String())
		}
		if lines[1] != nsLink(t, init.PID) {
			t.Errorf("command ran in %s, want the target's %s", lines[1], nsLink(t, init.PID))
		}
		// The namespace numbers from 1 (its init); nsexec's start-up threads
		// take a few more numbers, so a handful, not the host's PIDs.
		if pid, err := strconv.Atoi(lines[0]); err != nil || pid < 2 || pid > 64 {
			t.Errorf("the command saw itself as pid %q, want a small pid of the new namespace", lines[0])
		}
	})

	t.Run("all namespaces, mount last", func(t *testing.T) {
		ns := func(kind string) string { return "/proc/" + strconv.Itoa(init.PID) + "/ns/" + kind }
		r := startNsexec(t, "-c", ns("cgroup"), "-i", ns("ipc"), "-n", ns("net"), "-p", ns("pid"), "-m", ns("mnt"), "--",
			"sh", "-c", "cat /proc/1/comm; readlink /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/cgroup /proc/self/ns/mnt")
		if code := r.exitCode(t); code != 0 {
			t.Fatalf("nsexec exit code = %d, want 0; stderr: %s", code, &r.stderr)
		}
		// In the target's mount namespace, /proc is the target's own: its
		// pid 1 is the namespace's init.
		want := []string{"sleep"}
		for _, kind := range []string{"net", "ipc", "cgroup", "mnt"} {
			want = append(want, nsLinkOf(t, init.PID, kind))
		}
		if got := strings.Fields(r.stdout.String()); !slices.Equal(got, want) {
			t.Errorf("the command saw %q, want %q (the target's init and namespaces)", got, want)
		}
	})

	t.Run("SIGTERM reaches the command", func(t *testing.T) {
		r := startNsexec(t, "-p", target, "--", "sleep", "30")
		sleep := r.child(t, "sleep")
		if nsLink(t, sleep.PID) != nsLink(t, init.PID) {
			t.Fatalf("sleep is not in the target pid namespace")
		}
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("signal nsexec: %v", err)
		}
		if code := r.exitCode(t); code != 0 {
			t.Errorf("nsexec exit code = %d, want 0; stderr: %s", code, &r.stderr)
		}
		eventuallyGone(t, sleep)
	})

	// Go's own Pdeathsig would kill a child born in another pid namespace
	// at once (it compares getppid(), which reads 0 there); the shim sets
	// it instead. This proves the command still dies with nsexec.
	t.Run("the command dies with a SIGKILLed nsexec", func(t *testing.T) {
		r := startNsexec(t, "-p", target, "--", "sleep", "30")
		sleep := r.child(t, "sleep")
		if err := r.cmd.Process.Kill(); err != nil {
			t.Fatalf("kill nsexec: %v", err)
		}
		r.exitCode(t)
		eventuallyGone(t, sleep) // a zombie of the namespace's init counts as gone
	})

	t.Run("command not found in the namespace", func(t *testing.T) {
		r := startNsexec(t, "-p", target, "--", "nodelab-no-such-command")
		if code := r.exitCode(t); code != exitNotFound {
			t.Errorf("nsexec exit code = %d, want %d; stderr: %s", code, exitNotFound, &r.stderr)
		}
	})
}
