package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// inotify limits kind documents for multi-node clusters: each node runs a
// kubelet, containerd and systemd that all watch files.
const (
	minInotifyWatches   = 524288
	minInotifyInstances = 512
)

// checkInotify compares /proc/sys/fs/inotify/<name> with min.
func checkInotify(env *Env, name string, min int) Check {
	c := Check{Name: "inotify " + name}
	path := "/proc/sys/fs/inotify/" + name
	data, err := env.ReadFile(path)
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("could not read %s: %v", path, err)
		return c
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("could not parse %s (%q)", path, strings.TrimSpace(string(data)))
		return c
	}
	if v >= min {
		c.Status, c.Detail = Pass, fmt.Sprintf("%d ≥ %d", v, min)
		return c
	}
	c.Status = Warn
	c.Detail = fmt.Sprintf("%d < %d: multi-node labs fail with \"too many open files\"; run sysctl -w fs.inotify.%s=%d and persist it in /etc/sysctl.d/", v, min, name, min)
	return c
}

// Free memory thresholds: a control plane and two workers settle around
// 2.5 GiB, and scenarios add load on top.
const (
	minMemoryPass = 4 * gib
	minMemoryWarn = 2 * gib
)

// checkMemory reads MemAvailable from /proc/meminfo.
func checkMemory(env *Env) Check {
	c := Check{Name: "Free memory"}
	data, err := env.ReadFile("/proc/meminfo")
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("could not read /proc/meminfo: %v", err)
		return c
	}
	avail, ok := meminfoBytes(string(data), "MemAvailable")
	if !ok {
		c.Status, c.Detail = Warn, "no MemAvailable line in /proc/meminfo; is the kernel older than 3.14?"
		return c
	}
	free := gibString(avail) + " available"
	switch {
	case avail >= minMemoryPass:
		c.Status, c.Detail = Pass, free
	case avail >= minMemoryWarn:
		c.Status, c.Detail = Warn, fmt.Sprintf("%s, less than %s: use fewer workers (workers: 0 or 1) or close programs", free, gibString(minMemoryPass))
	default:
		c.Status, c.Detail = Fail, fmt.Sprintf("%s, less than %s: a lab will not fit; close programs or use a bigger machine", free, gibString(minMemoryWarn))
	}
	return c
}

// meminfoBytes returns a /proc/meminfo field ("MemAvailable:  123 kB") in bytes.
func meminfoBytes(meminfo, key string) (uint64, bool) {
	for _, line := range strings.Split(meminfo, "\n") {
		k, rest, found := strings.Cut(line, ":")
		if !found || k != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		if len(f) > 1 && f[1] == "kB" {
			v *= 1024
		}
		return v, true
	}
	return 0, false
}

// checkKVM checks that /dev/kvm exists and this user may open it.
func checkKVM(env *Env) Check {
	const dev = "/dev/kvm"
	c := Check{Name: "KVM device (" + dev + ")", Status: Warn}
	fi, err := env.Stat(dev)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Detail = fmt.Sprintf("absent: %v; KubeVirt scenarios will skip; enable hardware virtualization (nested virtualization on a VM) to run them", err)
		return c
	case err != nil:
		c.Detail = fmt.Sprintf("could not check: %v; KubeVirt scenarios may skip", err)
		return c
	case fi.Mode()&fs.ModeCharDevice == 0:
		c.Detail = fmt.Sprintf("%s is not a character device, mode %s; KubeVirt scenarios will skip", dev, fi.Mode())
		return c
	}
	if err := env.OpenReadWrite(dev); err != nil {
		c.Detail = fmt.Sprintf("present but not usable: %v; KubeVirt scenarios will skip; add the user to the kvm group", err)
		return c
	}
	c.Status, c.Detail = Pass, "present and accessible"
	return c
}

// checkDebootstrap looks for debootstrap, which the offline image forge
// uses to build the node's Debian root filesystem. It is in /usr/sbin, which
// is not in every user's PATH.
func checkDebootstrap(env *Env) Check {
	c := Check{Name: "debootstrap installed"}
	if p, err := env.LookPath("debootstrap"); err == nil {
		c.Status, c.Detail = Pass, p
		return c
	}
	for _, p := range []string{"/usr/sbin/debootstrap", "/sbin/debootstrap"} {
		if _, err := env.Stat(p); err == nil {
			c.Status, c.Detail = Pass, p
			return c
		}
	}
	c.Status, c.Detail = Warn, "not found: the offline image forge needs it to build node images; apt-get install debootstrap"
	return c
}
