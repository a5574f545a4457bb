package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// namespace is one namespace file to enter.
type namespace struct {
	kind   string // as in /proc/PID/ns/<kind>
	path   string
	nstype int // CLONE_NEW*, so setns checks the file is of that kind
}

// namespaces lists what o asks to enter, in the order nsexec enters them:
// upstream's cgroup, ipc, net, pid, then mnt last because entering it
// changes the root directory of the thread.
func (o options) namespaces() []namespace {
	var list []namespace
	add := func(kind, path string, nstype int) {
		if path != "" {
			list = append(list, namespace{kind, path, nstype})
		}
	}
	add("cgroup", o.Cgroup, unix.CLONE_NEWCGROUP)
	add("ipc", o.IPC, unix.CLONE_NEWIPC)
	add("net", o.Net, unix.CLONE_NEWNET)
	add("pid", o.PID, unix.CLONE_NEWPID)
	if !o.Local { // with -l, CMD enters the mount namespace itself
		add("mnt", o.Mnt, unix.CLONE_NEWNS)
	}
	return list
}

// enterNamespaces moves the calling thread into list. The caller must have
// locked the goroutine to its thread and must start CMD from it.
func enterNamespaces(list []namespace) error {
	files := make([]*os.File, 0, len(list))
	defer func() {
		for _, f := range files {
			_ = f.Close() // read-only namespace handles: nothing to lose
		}
	}()
	// Open every file before entering any namespace: after entering a mount
	// namespace, /proc/PID/... would name something else.
	for _, ns := range list {
		f, err := os.Open(ns.path)
		if err != nil {
			return fmt.Errorf("open %s namespace: %w", ns.kind, err)
		}
		files = append(files, f)
	}
	for i, ns := range list {
		if ns.nstype == unix.CLONE_NEWNS {
			// setns(CLONE_NEWNS) refuses a thread that shares its fs_struct
			// (root, cwd) with other threads, as Go's threads do.
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("enter mnt namespace %s: unshare filesystem context: %w", ns.path, err)
			}
		}
		if err := unix.Setns(int(files[i].Fd()), ns.nstype); err != nil {
			return fmt.Errorf("enter %s namespace %s: %w%s", ns.kind, ns.path, err, setnsHint(err, ns.kind))
		}
	}
	return nil
}

func setnsHint(err error, kind string) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf(" (is it a %s namespace file, e.g. /proc/PID/ns/%s? a pid namespace must also be a descendant of nsexec's own)", kind, kind)
	case errors.Is(err, unix.EPERM):
		return " (needs CAP_SYS_ADMIN; chaos-daemon runs privileged)"
	}
	return ""
}
