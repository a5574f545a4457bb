package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nodelab/nodelab/lab/instruments/stress"
)

// runClient is one worker: map PerClient bytes, touch every page, hold them
// until a signal arrives on sigs. It returns the exit code.
func runClient(p plan, ramp time.Duration, sigs <-chan os.Signal, out, log io.Writer) int {
	data, err := unix.Mmap(-1, 0, int(p.PerClient), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		fmt.Fprintf(log, "memstress client %d: map %s: %v\n", os.Getpid(), stress.FormatBytes(p.PerClient), err)
		return 1
	}
	page := uint64(os.Getpagesize())
	r := stress.Ramp{Pages: stress.Pages(p.PerClient, page), Over: ramp}
	if ramp > 0 {
		fmt.Fprintf(out, "memstress client %d: ramping to %s over %v\n", os.Getpid(), stress.FormatBytes(p.PerClient), ramp)
	}
	if !touch(data, page, r, sigs) {
		return 0
	}
	fmt.Fprintf(out, "memstress client %d: holding %s in %d pages of %d B until signalled\n", os.Getpid(), stress.FormatBytes(p.PerClient), r.Pages, page)
	<-sigs
	return 0
}

// touch writes one byte to each page of data, as fast as r allows. It
// returns false if a signal arrived first. Writing faults in a private
// page of its own, so RSS (and the cgroup's usage) grows by a page.
func touch(data []byte, page uint64, r stress.Ramp, sigs <-chan os.Signal) bool {
	var done uint64
	touchTo := func(n uint64) {
		for ; done < n; done++ {
			data[done*page] = 1
		}
	}
	start := time.Now()
	touchTo(r.Target(0))
	if done == r.Pages {
		return true
	}
	tick := time.NewTicker(stress.RampStep)
	defer tick.Stop()
	for done < r.Pages {
		select {
		case <-sigs:
			return false
		case <-tick.C:
			touchTo(r.Target(time.Since(start)))
		}
	}
	return true
}
