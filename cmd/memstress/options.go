package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/stress"
)

// options is memstress's command line.
type options struct {
	// Size is the total over all workers.
	Size stress.Size
	// Time is the ramp-up duration; zero means all at once.
	Time time.Duration
	// Workers is the number of clients.
	Workers int
	// Client makes this process one worker.
	Client bool

	rawTime string // as given, to pass on to clients unchanged
}

// parseOptions reads the command line and reports every problem at once.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var (
		o       options
		rawSize string
	)
	fs := flag.NewFlagSet("memStress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&rawSize, "size", "0KB", "total memory over all workers: bytes (900MB = 900,000,000; 900MiB = 943,718,400) or a percentage of the memory limit (25%)")
	fs.StringVar(&o.rawTime, "time", "0s", "ramp the memory up linearly over this duration (10 ms steps)")
	fs.IntVar(&o.Workers, "workers", 1, "number of worker processes")
	fs.BoolVar(&o.Client, "client", false, "run as one worker (started by the parent)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}

	var errs []error
	if rest := fs.Args(); len(rest) > 0 {
		// "--client true": a Go bool flag takes no separate value, so the
		// value arrives as a positional argument.
		v, err := strconv.ParseBool(rest[0])
		if len(rest) > 1 || err != nil {
			errs = append(errs, fmt.Errorf("unexpected arguments %q: only a true/false after --client may follow the flags", rest))
		} else {
			o.Client = o.Client && v
		}
	}
	size, err := stress.ParseSize(rawSize)
	if err != nil {
		errs = append(errs, fmt.Errorf("--size: %w", err))
	}
	o.Size = size
	if o.Time, err = time.ParseDuration(o.rawTime); err != nil || o.Time < 0 {
		errs = append(errs, fmt.Errorf("--time %q: want a duration like 30s or 2m, zero or more", o.rawTime))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers %d: want at least 1", o.Workers))
	}
	if err := errors.Join(errs...); err != nil {
		return options{}, err
	}
	return o, nil
}

// clientArgs is the command line of one client: upstream's child protocol.
func (o options) clientArgs() []string {
	return []string{"--size", o.Size.Raw, "--workers", strconv.Itoa(o.Workers), "--time", o.rawTime, "--client", "true"}
}

// plan is what each client will hold.
type plan struct {
	// Total is the resolved --size.
	Total stress.Resolved
	// Workers is the number of clients.
	Workers int
	// PerClient is Total divided by Workers, rounded down.
	PerClient uint64
}

// makePlan resolves the size; read supplies the limit for percentages.
func makePlan(o options, read stress.LimitReader) (plan, error) {
	total, err := o.Size.Resolve(read)
	if err != nil {
		return plan{}, err
	}
	p := plan{Total: total, Workers: o.Workers, PerClient: total.Bytes / uint64(o.Workers)}
	if p.PerClient == 0 {
		return plan{}, fmt.Errorf("--size %s over workers=%d is 0 bytes each: nothing to allocate", total, o.Workers)
	}
	if p.PerClient > uint64(maxInt) {
		return plan{}, fmt.Errorf("--size %s over workers=%d is more than one mapping can hold", total, o.Workers)
	}
	return p, nil
}

const maxInt = int(^uint(0) >> 1)

// String is the parent's report line.
func (p plan) String() string {
	return fmt.Sprintf("--size %s over workers=%d: %s each", p.Total, p.Workers, stress.FormatBytes(p.PerClient))
}
