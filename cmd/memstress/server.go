package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Timing of the parent.
const (
	// restartDelay is how long an exited client's slot stays empty, as
	// upstream's one-second pacing.
	restartDelay = time.Second
	// stopGrace is how long clients get to exit after SIGTERM before
	// SIGKILL.
	stopGrace = 2 * time.Second
)

// server keeps a number of clients alive until it is told to stop.
type server struct {
	exe     string
	argv0   string
	args    []string // client command line after argv[0]
	workers int
	log     io.Writer

	mu       sync.Mutex
	stopping bool
	live     map[*os.Process]bool
	wg       sync.WaitGroup
}

// newServer prepares the parent. Clients run this very binary, whatever
// $PATH says: its path from /proc/self/exe (so that ps shows its name), or
// /proc/self/exe itself if that cannot be read.
func newServer(o options, log io.Writer) *server {
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	return &server{exe: exe, argv0: os.Args[0], args: o.clientArgs(), workers: o.Workers, log: log, live: map[*os.Process]bool{}}
}

// run starts the clients and keeps them alive until a signal arrives on
// sigs, then stops them and returns.
func (s *server) run(sigs <-chan os.Signal) {
	stop := make(chan struct{})
	for range s.workers {
		s.wg.Add(1)
		go s.slot(stop)
	}
	sig := <-sigs
	fmt.Fprintf(s.log, "memstress: %v: stopping the clients\n", sig)
	s.signalAll(syscall.SIGTERM)
	close(stop)

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopGrace):
		fmt.Fprintf(s.log, "memstress: clients still running %v after SIGTERM: killing them\n", stopGrace)
		s.signalAll(syscall.SIGKILL)
		<-done
	}
}

// signalAll signals every live client and makes sure no client starts
// after.
func (s *server) signalAll(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	for p := range s.live {
		if err := p.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			fmt.Fprintf(s.log, "memstress: signal client %d: %v\n", p.Pid, err)
		}
	}
}

// slot runs one client after another until stop is closed. The goroutine
// stays locked to its OS thread: the clients' Pdeathsig fires when the
// thread that forked them exits, and an unlocked goroutine could fork from
// a thread that the runtime later retires. The thread ends with the slot,
// after its last client has been reaped.
func (s *server) slot(stop <-chan struct{}) {
	defer s.wg.Done()
	runtime.LockOSThread()
	for {
		if cmd := s.start(); cmd != nil {
			err := cmd.Wait()
			s.mu.Lock()
			delete(s.live, cmd.Process)
			stopping := s.stopping
			s.mu.Unlock()
			if !stopping {
				fmt.Fprintf(s.log, "memstress: client %d exited (%v); starting another in %v\n", cmd.Process.Pid, err, restartDelay)
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(restartDelay):
		}
	}
}

// start starts a client unless the server is stopping; the lock makes sure
// no client starts after signalAll has looked at the live set.
func (s *server) start() *exec.Cmd {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil
	}
	cmd := &exec.Cmd{
		Path:        s.exe,
		Args:        append([]string{s.argv0}, s.args...),
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM},
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(s.log, "memstress: start a client: %v; retrying in %v\n", err, restartDelay)
		return nil
	}
	s.live[cmd.Process] = true
	return cmd
}
