package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nodelab/nodelab/lab/instruments/stress"
)

const exitUsage = 2

// run is memstress's main; it returns the exit code.
func run(args []string) int {
	// Before anything starts, so that a stop request is never lost.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	o, err := parseOptions(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "memstress: %v\n", err)
		return exitUsage
	}
	p, err := makePlan(o, stress.HostMemoryLimit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "memstress: %v\n", err)
		if o.Client {
			return 1 // the parent checked the same; the limit changed since
		}
		return exitUsage
	}
	if o.Client {
		return runClient(p, o.Time, sigs, os.Stdout, os.Stderr)
	}
	ramp := "all at once"
	if o.Time > 0 {
		ramp = fmt.Sprintf("ramped over %v", o.Time)
	}
	fmt.Fprintf(os.Stdout, "memstress: %s, %s\n", p, ramp)
	newServer(o, os.Stderr).run(sigs)
	return 0
}
