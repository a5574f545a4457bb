package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit codes of nsexec's own failures; see the package doc.
const (
	exitUsage      = 2
	exitSetup      = 125
	exitCannotExec = 126
	exitNotFound   = 127
)

// run is nsexec's main; it returns the exit code.
func run(args []string) int {
	if fd, ok := os.LookupEnv(shimEnv); ok {
		return runShim(fd, args)
	}
	opts, err := parseOptions(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: %v\n", err)
		return exitUsage
	}

	// Catch the signals before anything can be started, so none is lost;
	// one that arrives before CMD starts is forwarded right after.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	defer signal.Stop(sigs)

	// Never unlocked: the namespaces entered below belong to this thread,
	// CMD must be forked from it, and CMD's Pdeathsig is tied to it.
	runtime.LockOSThread()
	if err := enterNamespaces(opts.namespaces()); err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: %v\n", err)
		return exitSetup
	}
	cmd, alive, err := start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: %v\n", err)
		return startFailureCode(err)
	}
	if alive != nil {
		defer func() { _ = alive.Close() }() // its closing is the message
	}

	var forwarded atomic.Bool
	go forward(cmd.Process, sigs, &forwarded, os.Stderr)
	if err := cmd.Wait(); err != nil && cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "nsexec: wait for %s: %v\n", opts.Command[0], err)
		return exitSetup
	}
	code, why := exitCode(cmd.ProcessState.Sys().(syscall.WaitStatus), forwarded.Load())
	if why != "" {
		fmt.Fprintf(os.Stderr, "nsexec: %s %s\n", opts.Command[0], why)
	}
	return code
}

// start starts CMD from the calling (locked) thread, with nsexec's stdio
// and environment, so that nsexec's death sends it SIGTERM. With -p it goes
// through the shim (see shim.go) and also returns the pipe end to keep open
// until CMD exits.
func start(o options) (*exec.Cmd, *os.File, error) {
	env := os.Environ()
	if o.Local {
		if _, err := os.Stat(o.LibraryPath); err != nil {
			return nil, nil, fmt.Errorf("-l preloads %s into %s to enter the mount namespace (HTTPChaos only); it is not available: %w", o.LibraryPath, o.Command[0], err)
		}
	}
	if o.PID != "" {
		return startViaShim(o, env)
	}
	if o.Local {
		env = append(env, "LD_PRELOAD="+o.LibraryPath, "__MNTEXEC_PATH="+o.Mnt)
	}
	// exec.Command looks CMD up now, on this thread, so in the mount
	// namespace CMD will run in.
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", strings.Join(o.Command, " "), err)
	}
	return cmd, nil, nil
}

func startFailureCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return exitNotFound
	}
	return exitCannotExec
}

// forward sends SIGTERM to p for every SIGTERM or SIGINT nsexec receives,
// marking that it did before sending so that exitCode can tell the child's
// death was asked for.
func forward(p *os.Process, sigs <-chan os.Signal, forwarded *atomic.Bool, stderr io.Writer) {
	for range sigs {
		forwarded.Store(true)
		if err := p.Signal(unix.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			fmt.Fprintf(stderr, "nsexec: forward SIGTERM to pid %d: %v\n", p.Pid, err)
		}
	}
}

// exitCode maps CMD's wait status to nsexec's exit code and, for a death
// nsexec did not ask for, a note for stderr.
func exitCode(ws syscall.WaitStatus, forwarded bool) (int, string) {
	switch {
	case ws.Exited():
		return ws.ExitStatus(), ""
	case ws.Signaled() && forwarded:
		return 0, ""
	case ws.Signaled():
		return 128 + int(ws.Signal()), fmt.Sprintf("was killed by signal %d (%v), which nsexec did not send", int(ws.Signal()), ws.Signal())
	}
	return exitSetup, fmt.Sprintf("ended with unexpected wait status %#x", uint32(ws))
}
