// Package nlbnet gives the NLB emulator (lab/instruments/nlb) a data plane that can reach
// pod IPs, for target type "ip", without touching the host's routing table.
//
// Pod IPs (10.244.x.y in kind) are routed only inside the cluster: the host
// has no route to a node's podCIDR. There were three ways to get one:
//
//   - Host routes (ip route add <podCIDR> via <node IP> on the host): ruled
//     out. They change the host for every process, outlive a crashed run, and
//     another scenario relies on pod IPs being unreachable from the host.
//   - A bare network namespace (ip netns add, plus a veth into the kind
//     bridge): invisible to `docker ps`, needs its own address management on
//     a network Docker owns, and nothing removes it when nodelab crashes.
//   - A container of its own on the lab's docker network ("kind"), with a
//     route to every node's podCIDR via that node's IP: chosen. Docker gives
//     it an address on the nodes' L2 network, so the routes are one hop; it
//     shows in `docker ps` as nodelab-<lab>-nlb-dataplane, carries the
//     docker labels nodelab.dev/lab=<lab> and nodelab.dev/role=nlb-dataplane,
//     runs `sleep` for a bounded time (Options.Lifetime, 6 h by default) with
//     --rm so it goes away by itself, and is removed by DataPlane.Close,
//     by Remove and so by `nodelab down`.
//
// The emulator still runs in the nodelab process. DataPlane.Dial, its
// nlb.Config.Dial, creates each socket inside the container's network
// namespace: a goroutine locked to its OS thread joins the namespace with
// setns(2), dials, and joins the thread's own namespace again. A socket stays
// in the namespace it was created in, so the connection is routed by the
// container's table while the bytes are copied (spliced) by the emulator as
// for any other *net.TCPConn. If the thread cannot get back to its
// namespace it is not unlocked, so the Go runtime ends it with the goroutine
// and no other goroutine ever runs in the wrong namespace (the pattern of
// containernetworking/plugins pkg/ns, written out here: it is 40 lines on
// golang.org/x/sys/unix, already a dependency, where that module would have
// added its whole requirement graph to go.mod).
//
// Joining another process's network namespace needs CAP_SYS_ADMIN (and
// ptrace access to open /proc/<pid>/ns/net): Start checks it once and fails
// with ErrNeedRoot, which says to run as root or use instance targets, whose
// node IPs the host reaches without any of this.
//
// The live test needs only Docker and root, and uses a docker network of its
// own rather than "kind":
//
//	NODELAB_NLBNET_LIVE=1 go test ./lab/nlbnet -run Live -count=1 -v
package nlbnet
