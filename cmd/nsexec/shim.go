package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// shimEnv marks a process that nsexec started to become CMD inside a
// foreign pid namespace. Its value is the file descriptor of the read end
// of nsexec's liveness pipe.
const shimEnv = "NODELAB_NSEXEC_SHIM_FD"

// Why a shim: Go's SysProcAttr.Pdeathsig cannot be used for a child born
// in another pid namespace. After prctl(PR_SET_PDEATHSIG) the forked child
// checks getppid() against the parent's PID to catch a parent that died
// during the fork, but a parent outside the child's pid namespace reads as
// 0 there, so the child signals itself at once and CMD never runs. So when
// -p is given, nsexec starts its own executable with shimEnv set; the path
// /proc/self/exe is resolved by the child, in the /proc of its mount
// namespace (chaos-daemon's, or with -m the target's, which shows the child
// because it is in the target's pid namespace); the shim sets its
// parent-death signal itself, checks that nsexec is still alive through a
// pipe (EOF means the writer, nsexec, is gone; PIDs cannot tell across
// namespaces), and execs CMD in place. The process that nsexec waits for
// and signals is therefore CMD itself, as without the shim.

// startViaShim starts CMD through the shim. The returned pipe end must stay
// open until CMD has exited: its closing is how the shim sees nsexec die.
func startViaShim(o options, env []string) (*exec.Cmd, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: liveness pipe: %w", o.Command[0], err)
	}
	defer func() { _ = r.Close() }() // the child has its own copy
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       append([]string{"nsexec", o.preload(), o.mntexecPath()}, o.Command...),
		Env:        append(env, shimEnv+"=3"), // ExtraFiles[0] is fd 3
		ExtraFiles: []*os.File{r},
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
	}
	if err := cmd.Start(); err != nil {
		_ = w.Close()
		return nil, nil, fmt.Errorf("start %s through nsexec's own executable: %w", o.Command[0], err)
	}
	return cmd, w, nil
}

// preload and mntexecPath are -l's environment for CMD, empty without -l.
func (o options) preload() string {
	if o.Local {
		return o.LibraryPath
	}
	return ""
}

func (o options) mntexecPath() string {
	if o.Local {
		return o.Mnt
	}
	return ""
}

// runShim is the shim's main: args are [preload, mntexec, CMD, ARGS…]. It
// returns only on failure.
func runShim(fdText string, args []string) int {
	// prctl and exec must happen on one thread: the parent-death signal
	// belongs to the thread that sets it, and exec keeps only its caller.
	runtime.LockOSThread()
	fd, err := strconv.Atoi(fdText)
	if err != nil || len(args) < 3 {
		fmt.Fprintf(os.Stderr, "nsexec: internal shim called wrongly (%s=%q, %d arguments)\n", shimEnv, fdText, len(args))
		return exitSetup
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: set parent-death signal: %v\n", err)
		return exitSetup
	}
	// nsexec may have died before prctl took effect; then the pipe's only
	// writer is closed and poll reports a hang-up.
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 0); err == nil && n > 0 && pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
		fmt.Fprintln(os.Stderr, "nsexec: exited before the command could start; not starting it")
		return exitSetup
	}
	_ = unix.Close(fd) // CMD must not inherit it
	if err := os.Unsetenv(shimEnv); err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: %v\n", err)
		return exitSetup
	}
	env := os.Environ()
	if args[0] != "" {
		env = append(env, "LD_PRELOAD="+args[0], "__MNTEXEC_PATH="+args[1])
	}
	cmd := args[2:]
	path, err := exec.LookPath(cmd[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsexec: start %s: %v\n", cmd[0], err)
		return exitNotFound
	}
	err = unix.Exec(path, cmd, env)
	fmt.Fprintf(os.Stderr, "nsexec: start %s: %v\n", cmd[0], err)
	if errors.Is(err, unix.ENOENT) {
		return exitNotFound
	}
	return exitCannotExec
}
