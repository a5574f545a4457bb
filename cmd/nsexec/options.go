package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// defaultLibraryPath is where chaos-daemon's image puts libnsenter.so.
const defaultLibraryPath = "/usr/local/lib/libnsenter.so"

const shortUsage = "usage: nsexec [-l] [--library-path P] [-c P] [-i P] [-m P] [-n P] [-p P] -- CMD ARGS…"

const usage = shortUsage + `

Enter the namespaces given by namespace files (e.g. /proc/PID/ns/pid), then
run CMD as a child, forward SIGTERM/SIGINT to it as SIGTERM, and exit with
its status (0 if it died from a forwarded signal).

  -c, --cgroup P   cgroup namespace
  -i, --ipc P      IPC namespace
  -m, --mnt P      mount namespace
  -n, --net P      network namespace
  -p, --pid P      pid namespace: CMD is born in it, nsexec stays outside
  -l, --local      with -m: CMD enters the mount namespace itself, through
                   LD_PRELOAD of --library-path (default ` + defaultLibraryPath + `)
  -u, --user P     refused: Go programs cannot enter a user namespace
`

// options is nsexec's command line.
type options struct {
	Cgroup, IPC, Mnt, Net, PID, User string
	// Local means: let CMD enter the mount namespace itself via LD_PRELOAD.
	Local       bool
	LibraryPath string
	// Command is CMD and its arguments.
	Command []string
}

// parseOptions reads the command line. It accepts upstream's flag letters,
// their long names, "-p P", "-p=P" and "--pid=P", and stops at "--" or at
// the first argument that is not a flag.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("nsexec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, ns := range []struct {
		short, long string
		dst         *string
	}{
		{"c", "cgroup", &o.Cgroup},
		{"i", "ipc", &o.IPC},
		{"m", "mnt", &o.Mnt},
		{"n", "net", &o.Net},
		{"p", "pid", &o.PID},
		{"u", "user", &o.User},
	} {
		fs.StringVar(ns.dst, ns.short, "", "")
		fs.StringVar(ns.dst, ns.long, "", "")
	}
	fs.BoolVar(&o.Local, "l", false, "")
	fs.BoolVar(&o.Local, "local", false, "")
	fs.StringVar(&o.LibraryPath, "library-path", defaultLibraryPath, "")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o.Command = fs.Args()
	if err := o.validate(); err != nil {
		return options{}, fmt.Errorf("%w\n%s", err, shortUsage)
	}
	return o, nil
}

// validate reports every problem with o at once.
func (o options) validate() error {
	var errs []error
	if len(o.Command) == 0 {
		errs = append(errs, errors.New("no command: give it after --, e.g. nsexec -p /proc/1/ns/pid -- sleep 1"))
	}
	if o.User != "" {
		errs = append(errs, errors.New("-u: a user namespace can only be entered by a single-threaded process and Go programs are multithreaded; use util-linux nsenter --user instead"))
	}
	if o.Local && o.Mnt == "" {
		errs = append(errs, errors.New("-l needs -m: it says how CMD enters the mount namespace given by -m"))
	}
	return errors.Join(errs...)
}
