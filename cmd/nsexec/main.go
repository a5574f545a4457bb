// Command nsexec is nodelab's stand-in for Chaos Mesh's nsexec helper
// (github.com/chaos-mesh/nsexec v0.1.6, a Rust binary that cannot be fetched
// offline). chaos-daemon runs it for StressChaos as
//
//	/usr/local/bin/pause choom -n N -- /usr/local/bin/nsexec -p /proc/<PID>/ns/pid -- stress-ng|memStress ARGS…
//
// Usage:
//
//	nsexec [-l] [--library-path P] [-c P] [-i P] [-m P] [-n P] [-p P] -- CMD ARGS…
//
// -c cgroup, -i ipc, -m mnt, -n net and -p pid each name a namespace file
// (e.g. /proc/123/ns/pid); long forms --cgroup, --ipc, --mnt, --net, --pid.
// nsexec opens all the files first (entering a mount namespace would change
// what the later paths mean), then enters them in upstream's order cgroup,
// ipc, net, pid, and mnt last, starts CMD as its child, and waits.
//
// # How setns works from Go
//
// setns(2) changes the namespaces of the calling thread only, and a pid
// namespace change only affects children created afterwards
// (pid_for_children). A Go program has many threads and goroutines hop
// between them, so nsexec calls runtime.LockOSThread in main and never
// unlocks: setns runs on that thread, and os/exec's fork (clone) runs on the
// same thread because the goroutine that calls cmd.Start is the locked one,
// so the child is born in the target namespaces while nsexec itself stays
// in chaos-daemon's pid namespace, as upstream does. The Go runtime starts
// its template thread when a goroutine first locks, and creates all later
// threads from it, never from the locked thread whose pid_for_children now
// differs (the kernel refuses CLONE_THREAD there). This needs no cgo and no
// re-exec to enter the namespaces: a re-exec'd nsexec would be just as
// multithreaded by the time its main runs.
//
// Two namespaces need more than that. A mount namespace requires that the
// thread not share its filesystem context with other threads, so for -m
// nsexec first calls unshare(CLONE_FS) on the locked thread (the thread is
// then unusable for other goroutines, which is why it stays locked until
// exit). A user namespace requires a single-threaded process, which a Go
// program never is, so nsexec refuses -u with that explanation instead of
// failing half-way; upstream has no -u either.
//
// nsexec does re-exec itself for one other reason: with -p, CMD goes
// through a short-lived shim (shim.go) because Go's SysProcAttr.Pdeathsig
// kills a child born in another pid namespace on the spot: the child
// compares getppid() with nsexec's PID, and a parent outside its namespace
// reads as 0. The shim is nsexec's own binary, run in the target namespace;
// it sets the parent-death signal itself, checks nsexec is still alive, and
// execs CMD in place, so the PID nsexec waits for and signals is CMD's.
//
// -l (with -m) does what upstream does: it does not enter the mount
// namespace itself but sets LD_PRELOAD=<--library-path, default
// /usr/local/lib/libnsenter.so> and __MNTEXEC_PATH=<-m path> for CMD, whose
// preloaded library enters it after the dynamic loader ran. Only HTTPChaos
// uses it, and the library is not part of nodelab, so nsexec fails clearly
// when it is missing.
//
// # Signals and exit status
//
// SIGTERM and SIGINT to nsexec are forwarded to CMD as SIGTERM (upstream's
// handler does kill(child, SIGTERM) for both); nsexec keeps waiting and
// exits when CMD does. This is the reason nsexec exists: chaos-daemon stops
// a stressor by SIGTERMing the PID it started, which is nsexec, and a
// wrapper that simply died (like util-linux nsenter does) would leave
// stress-ng or memStress running in the target's cgroup.
//
// CMD gets parent-death signal SIGTERM (through the shim with -p), so if
// nsexec itself is killed without a chance to forward (SIGKILL, the OOM
// killer), CMD still gets SIGTERM. That covers the whole chain: when
// chaos-daemon dies, its own Pdeathsig sends SIGTERM to the
// pause→choom→nsexec process, which forwards it; and a SIGKILLed nsexec
// hands over to CMD's Pdeathsig. Pdeathsig fires when the creating thread
// exits; that is the locked main thread, which lives as long as nsexec.
//
// Exit status: CMD's exit code if it exited; 0 if it died from a signal
// after nsexec forwarded one (upstream falls off main and exits 0, and
// chaos-daemon only logs the status); 128+N if it died from signal N that
// nsexec did not forward (for example SIGKILL from the OOM killer or from
// the end of the target's pid namespace), where upstream says 0: a
// deviation that only makes the daemon's log more truthful. nsexec's own
// failures: 2 for bad usage, 125 when a namespace cannot be entered, 126
// when CMD cannot be executed and 127 when it is not found, as env(1) and
// nsenter(1) do.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:]))
}
