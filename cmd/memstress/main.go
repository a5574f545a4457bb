// Command memstress is nodelab's stand-in for Chaos Mesh's memStress
// (github.com/chaos-mesh/memStress, a Go program with module path "main"
// that cannot be fetched offline). The chaos-daemon image installs it as
// memStress on $PATH, and chaos-daemon runs it for StressChaos
// spec.stressors.memory as
//
//	memStress --workers W [--size S] [OPTIONS…]
//
// behind pause, choom and nsexec -p, after putting the process into the
// target container's cgroup: memory it touches is charged there.
//
// # Behaviour
//
// Flags, as upstream (Go flag syntax: -x and --x, "--x v" and "--x=v"):
//
//   - --size S, default "0KB": the total over all workers. S is either a byte
//     count read exactly like go-humanize's ParseBytes (stress.ParseBytes:
//     "900MB" is 900,000,000 bytes, "900MiB" 943,718,400, a bare number is
//     bytes) or a percentage "25%" of the memory the process may use
//     (stress.ReadMemoryLimit: cgroup v2 memory.max, else cgroup v1
//     memory limit, else MemTotal; upstream uses MemTotal only);
//   - --time D, default "0s": ramp each worker's memory up linearly over D,
//     one step every 10 ms, instead of all at once;
//   - --workers W, default 1;
//   - --client: run as one worker (the child protocol below). A trailing
//     "true" or "1" (upstream passes "--client true") is accepted.
//
// The parent (no --client) keeps W clients alive: it starts them at once
// and starts a replacement one second after any client exits, as upstream's
// workQueue does, so an OOM-killed worker comes back and the pressure
// persists. Each client is `memstress --size S --workers W --time D
// --client true` (the same child protocol as upstream v0.3.1), started from
// /proc/self/exe rather than by name on $PATH so that it is always this
// binary, with Pdeathsig SIGTERM.
//
// A client maps S/W bytes of anonymous private memory and writes one byte
// to every page (all at once, or following stress.Ramp), so the kernel
// allocates real pages and charges them to the client's memory cgroup. It
// prints what it holds in bytes, MB and MiB (a stressor "not reaching its
// size" is usually 900MB read as 900MiB), then waits for a signal.
//
// # Signals and exit status
//
// SIGTERM or SIGINT to the parent, which is what chaos-daemon (through
// nsexec) sends to recover the chaos, makes it SIGTERM every client, wait
// for them (SIGKILL after 2 s), and exit 0; upstream instead dies from the
// signal and relies on Pdeathsig, which leaves the clients' exit unobserved.
// If the parent is SIGKILLed, Pdeathsig still sends each client SIGTERM:
// the clients are started from goroutines locked to their OS thread for
// their whole life, because a parent-death signal fires when the creating
// thread exits, not the process. A client exits 0 on SIGTERM or SIGINT.
//
// Bad flags, or a size that gives a worker zero bytes, exit 2 at once
// instead of restarting failing clients forever.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:]))
}
