package main

import (
	"os"
	"syscall"
	"testing"
)

// TestForwardsSignalsToTheCommand is why nsexec exists: chaos-daemon stops
// a stressor by signalling nsexec, and the stressor must go with it.
func TestForwardsSignalsToTheCommand(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			r := startNsexec(t, "--", "sleep", "30")
			sleep := r.child(t, "sleep")
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatalf("signal nsexec: %v", err)
			}
			if code := r.exitCode(t); code != 0 {
				t.Errorf("nsexec exit code after %v = %d, want 0 (child died from the forwarded signal); stderr: %s", sig, code, &r.stderr)
			}
			eventuallyGone(t, sleep)
		})
	}
}

// TestCommandDiesWithNsexec covers a SIGKILLed nsexec, which cannot
// forward anything: the command's parent-death signal must end it.
func TestCommandDiesWithNsexec(t *testing.T) {
	r := startNsexec(t, "--", "sleep", "30")
	sleep := r.child(t, "sleep")
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill nsexec: %v", err)
	}
	r.exitCode(t)
	eventuallyGone(t, sleep)
}

func TestExitStatus(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"command's code passes through", []string{"--", "sh", "-c", "exit 7"}, 7},
		{"command not found", []string{"--", "nodelab-no-such-command"}, exitNotFound},
		{"not executable", []string{"--", os.DevNull}, exitCannotExec},
		{"wrong namespace type", []string{"-p", "/proc/self/ns/net", "--", "true"}, exitSetup},
		{"missing namespace file", []string{"-n", "/proc/0/ns/net", "--", "true"}, exitSetup},
		{"usage", []string{"-p", "/proc/self/ns/pid"}, exitUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startNsexec(t, tc.args...)
			if code := r.exitCode(t); code != tc.want {
				t.Errorf("nsexec %q exit code = %d, want %d; stderr: %s", tc.args, code, tc.want, &r.stderr)
			}
		})
	}
}
