package nlbnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"
)

// Dial connects to addr, an IP:port, from the data plane's network
// namespace, so that the container's routes (node podCIDRs) apply and the
// host's do not. The connection is a *net.TCPConn without keep-alives, as
// nlb.Config.Dial wants. Host names are refused: resolving them would run
// on other threads, in the host's namespace.
func (d *DataPlane) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("dial %s %s from the NLB data plane: only TCP", network, addr)
	}
	if _, err := netip.ParseAddrPort(addr); err != nil {
		return nil, fmt.Errorf("dial %s from the NLB data plane: want an IP:port (name resolution would not run in the namespace): %w", addr, err)
	}
	// A copy of the namespace handle, so that Close need not wait for a dial
	// in progress and cannot close the descriptor under it.
	d.mu.RLock()
	fd := -1
	var err error
	if d.nsFD >= 0 {
		fd, err = unix.FcntlInt(uintptr(d.nsFD), unix.F_DUPFD_CLOEXEC, 0)
	}
	d.mu.RUnlock()
	if fd < 0 {
		if err == nil {
			err = net.ErrClosed
		}
		return nil, fmt.Errorf("dial %s from the NLB data plane %s: %w", addr, d.name, err)
	}
	defer closeFD(fd)
	var conn net.Conn
	err = inNetns(fd, func() error {
		var derr error
		// The socket is created here, on the thread that joined the
		// namespace, and stays in it; the rest of the dial may not.
		conn, derr = (&net.Dialer{KeepAlive: -1}).DialContext(ctx, network, addr)
		return derr
	})
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("dial %s from the NLB data plane %s: %w", addr, d.name, err)
	}
	return conn, nil
}

// listen opens a TCP listener in the data plane's namespace; the live test
// uses it as a target only the data plane can reach.
func (d *DataPlane) listen(addr string) (net.Listener, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.nsFD < 0 {
		return nil, net.ErrClosed
	}
	var ln net.Listener
	err := inNetns(d.nsFD, func() error {
		var lerr error
		ln, lerr = net.Listen("tcp", addr)
		return lerr
	})
	return ln, err
}

// openNetns opens the network namespace of process pid.
func openNetns(pid int) (int, error) {
	path := fmt.Sprintf("/proc/%d/ns/net", pid)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return -1, fmt.Errorf("open %s: %w: %w", path, err, ErrNeedRoot)
		}
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	return fd, nil
}

// inNetns runs fn on an OS thread that has joined the network namespace
// nsFD, and on no other thread. The thread goes back to its own namespace
// afterwards; if it cannot, it stays locked so that the runtime ends it with
// the goroutine instead of running other goroutines in the wrong namespace.
func inNetns(nsFD int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked by hand, never deferred: see above.
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		orig, err := unix.Open(self, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open %s: %w", self, err)
			return
		}
		defer closeFD(orig)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // still in its own namespace
			errc <- setnsError(err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("return to the host network namespace: %w", err))
			return // locked: the thread exits with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// setnsError explains a failed setns(2) into the data plane's namespace.
func setnsError(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("setns: %w: %w", err, ErrNeedRoot)
	}
	return fmt.Errorf("setns: %w", err)
}

func closeFD(fd int) { _ = unix.Close(fd) }
