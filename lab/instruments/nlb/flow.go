package nlb

import (
	"context"
	"errors"
	"io"
	"net"
	"time"
)

// flow is one client connection and its connection to a target.
type flow struct {
	n          *NLB
	target     *target
	client     *net.TCPConn
	cancelDial context.CancelFunc
	// backend and resetting are guarded by n.mu.
	backend   net.Conn
	resetting bool
}

// serve accepts client connections until the listener closes.
func (n *NLB) serve() {
	defer n.wg.Done()
	var backoff time.Duration
	for {
		c, err := n.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || n.ctx.Err() != nil {
				return
			}
			// Out of file descriptors and the like: back off in real time,
			// as net/http does, instead of spinning.
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			n.cfg.Logger.Warn("nlb accept", "error", err.Error(), "retry in", backoff)
			tm := time.NewTimer(backoff)
			select {
			case <-n.ctx.Done():
				tm.Stop()
				return
			case <-tm.C:
			}
			continue
		}
		backoff = 0
		n.accept(c)
	}
}

// accept picks a target for c by flow hash and starts the flow.
func (n *NLB) accept(c *net.TCPConn) {
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	dst := c.LocalAddr().(*net.TCPAddr).AddrPort()
	h := flowHash(src, dst)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = c.Close()
		return
	}
	tg := n.pickLocked(h)
	if tg == nil {
		n.rejected++
		n.mu.Unlock()
		rst(c)
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ConnectTimeout)
	f := &flow{n: n, target: tg, client: c, cancelDial: cancel}
	tg.flows[f] = struct{}{}
	tg.total++
	n.wg.Add(1)
	n.mu.Unlock()
	go n.run(ctx, f)
}

// pickLocked returns the target for a flow hash: one of the healthy targets,
// or when none is healthy (fail-open) one of the registered, non-draining
// targets; nil when there is none.
func (n *NLB) pickLocked(h uint64) *target {
	healthy := n.scratch[:0]
	for _, t := range n.targets {
		if t.state == StateHealthy && t.propagated {
			healthy = append(healthy, t)
		}
	}
	cands := healthy
	if len(cands) == 0 {
		for _, t := range n.targets {
			if t.routable(true) {
				cands = append(cands, t)
			}
		}
	}
	n.scratch = cands[:0]
	if len(cands) == 0 {
		return nil
	}
	return cands[pick(h, len(cands))]
}

// run dials the flow's target and copies both ways until both directions end.
func (n *NLB) run(ctx context.Context, f *flow) {
	defer n.wg.Done()
	began := time.Now() // real time: the dial is real I/O, whatever the NLB's clock
	b, err := n.dial(ctx, f.target.Addr)
	took := time.Since(began)
	f.cancelDial()
	if err == nil && took >= SlowDial {
		n.mu.Lock()
		f.target.slowDials++
		n.mu.Unlock()
		n.cfg.Logger.Debug("nlb slow dial", "target", f.target.String(), "took", took.String())
	}
	if err != nil {
		n.mu.Lock()
		f.target.dialErrors++
		n.mu.Unlock()
		n.cfg.Logger.Debug("nlb dial target", "target", f.target.String(), "error", err.Error())
		rst(f.client)
		n.endFlow(f, 0, 0)
		return
	}
	n.mu.Lock()
	if f.resetting || n.closed {
		n.mu.Unlock()
		_ = b.Close()
		n.endFlow(f, 0, 0)
		return
	}
	f.backend = b
	n.mu.Unlock()
	to, from := pipe(f.client, b)
	n.endFlow(f, to, from)
}

// pipe copies client→backend and backend→client. An end of stream is passed
// on as a half-close (CloseWrite); an error resets both connections, as a
// reset passes through an L4 load balancer. Both arguments stay the
// concrete connection types so that io.Copy splices between TCP sockets.
func pipe(client *net.TCPConn, backend net.Conn) (to, from int64) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		to, err = io.Copy(backend, client)
		if err != nil {
			abort(client, backend)
			return
		}
		closeWrite(backend)
	}()
	from, err := io.Copy(client, backend)
	if err != nil {
		abort(client, backend)
	} else {
		closeWrite(client)
	}
	<-done
	_ = client.Close()
	_ = backend.Close()
	return to, from
}

func (n *NLB) endFlow(f *flow, to, from int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := f.target
	delete(t.flows, f)
	t.bytesTo += uint64(to)
	t.bytesFrom += uint64(from)
	n.flowEndedLocked(t)
}

// resetFlowsLocked marks tg's flows for a reset by the NLB and returns them;
// the caller calls reset on each after unlocking.
func (n *NLB) resetFlowsLocked(tg *target) []*flow {
	var out []*flow
	for f := range tg.flows {
		if !f.resetting {
			f.resetting = true
			tg.resets++
			out = append(out, f)
		}
	}
	return out
}

// reset sends the client a TCP RST and closes the target side.
func (f *flow) reset() {
	f.cancelDial()
	rst(f.client)
	f.n.mu.Lock()
	b := f.backend
	f.n.mu.Unlock()
	if b != nil {
		_ = b.Close()
	}
}

// close ends the flow when the NLB closes.
func (f *flow) close() {
	f.cancelDial()
	_ = f.client.Close()
	f.n.mu.Lock()
	b := f.backend
	f.n.mu.Unlock()
	if b != nil {
		_ = b.Close()
	}
}

// rst closes c with SO_LINGER 0, which sends a TCP RST instead of a FIN.
func rst(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func abort(client *net.TCPConn, backend net.Conn) {
	rst(client)
	rst(backend)
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
