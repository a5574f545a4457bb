package main

import (
	"io"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestParseOptions(t *testing.T) {
	valid := []struct {
		args []string
		want options
	}{{
		// What chaos-daemon runs for StressChaos.
		args: []string{"-p", "/proc/42/ns/pid", "--", "memStress", "--workers", "2", "--size", "8MiB"},
		want: options{PID: "/proc/42/ns/pid", Command: []string{"memStress", "--workers", "2", "--size", "8MiB"}},
	}, {
		args: []string{"--pid=/p", "-n", "/n", "-i=/i", "--cgroup", "/c", "-m", "/m", "--", "tc", "qdisc"},
		want: options{PID: "/p", Net: "/n", IPC: "/i", Cgroup: "/c", Mnt: "/m", Command: []string{"tc", "qdisc"}},
	}, {
		// What HTTPChaos runs (tproxy): -l with -m.
		args: []string{"-l", "--library-path", "/lib/x.so", "-m", "/m", "-p", "/p", "--", "tproxy", "-v"},
		want: options{Local: true, LibraryPath: "/lib/x.so", Mnt: "/m", PID: "/p", Command: []string{"tproxy", "-v"}},
	}, {
		// Without "--", the first non-flag starts the command.
		args: []string{"-p", "/p", "sleep", "1"},
		want: options{PID: "/p", Command: []string{"sleep", "1"}},
	}, {
		// After "--", flags belong to the command.
		args: []string{"--", "stress-ng", "-p", "x"},
		want: options{Command: []string{"stress-ng", "-p", "x"}},
	}}
	for _, tc := range valid {
		got, err := parseOptions(tc.args, io.Discard)
		if tc.want.LibraryPath == "" {
			tc.want.LibraryPath = defaultLibraryPath
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseOptions(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}

	invalid := []struct {
		args []string
		why  string
	}{
		{nil, "no command"},
		{[]string{"-p", "/p", "--"}, "no command"},
		{[]string{"-p"}, "flag needs an argument"},
		{[]string{"-x", "--", "true"}, "not defined"},
		{[]string{"-u", "/proc/1/ns/user", "--", "true"}, "single-threaded"},
		{[]string{"-l", "--", "true"}, "-l needs -m"},
	}
	for _, tc := range invalid {
		got, err := parseOptions(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("parseOptions(%q) = %+v, %v; want an error containing %q", tc.args, got, err, tc.why)
		}
	}
}

func TestNamespaceOrder(t *testing.T) {
	all := options{Cgroup: "/c", IPC: "/i", Mnt: "/m", Net: "/n", PID: "/p"}
	var kinds []string
	for _, ns := range all.namespaces() {
		kinds = append(kinds, ns.kind)
	}
	// Upstream's order, mount last (it changes what later paths mean).
	if want := []string{"cgroup", "ipc", "net", "pid", "mnt"}; !slices.Equal(kinds, want) {
		t.Errorf("namespaces() order = %v, want %v", kinds, want)
	}
	all.Local = true
	for _, ns := range all.namespaces() {
		if ns.kind == "mnt" {
			t.Errorf("with -l, nsexec entered the mount namespace itself; CMD's preloaded library must do it")
		}
	}
}

func TestExitCode(t *testing.T) {
	exited := func(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }
	signaled := func(sig syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(sig) }
	cases := []struct {
		name      string
		ws        syscall.WaitStatus
		forwarded bool
		want      int
	}{
		{"exit 0", exited(0), false, 0},
		{"exit 3", exited(3), false, 3},
		{"exit 3 after a forwarded SIGTERM", exited(3), true, 3},
		{"killed by the forwarded SIGTERM: 0 as upstream", signaled(syscall.SIGTERM), true, 0},
		{"SIGKILL nsexec did not send: 128+9", signaled(syscall.SIGKILL), false, 137},
	}
	for _, tc := range cases {
		got, why := exitCode(tc.ws, tc.forwarded)
		if got != tc.want {
			t.Errorf("%s: exitCode = %d (%s), want %d", tc.name, got, why, tc.want)
		}
	}
}
