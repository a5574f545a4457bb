package doctor

import (
	"fmt"
	"path"
	"strings"
)

// kernelFeature is a kernel module kind nodes rely on. Nodes share the
// host's kernel and cannot load modules themselves.
type kernelFeature struct {
	// Module is the module name (modprobe's argument).
	Module string
	// Why says what breaks without it.
	Why string
	// Evidence lists files whose presence shows the feature is in the
	// running kernel (loaded or built in); /sys/module/<Module> is
	// always tried too.
	Evidence []string
	// FSName, when set, is looked up in /proc/filesystems.
	FSName string
	// Autoload is true when the kernel loads the module by itself on first
	// use (mounting the filesystem, creating the link type), so a loadable
	// module is enough.
	Autoload bool
}

var kernelFeatures = []kernelFeature{
	{Module: "overlay", FSName: "overlay", Autoload: true,
		Why: "Docker's overlay2 storage and containerd inside kind nodes mount overlay filesystems"},
	{Module: "br_netfilter", Evidence: []string{"/proc/sys/net/bridge/bridge-nf-call-iptables"},
		Why: "Service traffic between pods on one node's bridge must go through iptables"},
	{Module: "vxlan", Autoload: true,
		Why: "flannel, the forge labs' pod network, links nodes with VXLAN"},
}

// checkKernelFeature tells whether a module is in the running kernel, can
// be loaded, or is missing, from /proc, /sys and /lib/modules/<release>.
func checkKernelFeature(env *Env, f kernelFeature) Check {
	c := Check{Name: "Kernel feature: " + f.Module}
	if how, ok := featurePresent(env, f); ok {
		c.Status, c.Detail = Pass, how
		return c
	}
	rel, err := env.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("not loaded, and the kernel release is unknown: %v; run modprobe %s", err, f.Module)
		return c
	}
	dir := path.Join("/lib/modules", strings.TrimSpace(string(rel)))
	if builtin, err := env.ReadFile(path.Join(dir, "modules.builtin")); err == nil && listsModule(string(builtin), f.Module) {
		c.Status, c.Detail = Pass, "built into the kernel, per "+path.Join(dir, "modules.builtin")
		return c
	}
	dep, err := env.ReadFile(path.Join(dir, "modules.dep"))
	if err != nil {
		c.Status = Warn
		c.Detail = fmt.Sprintf("not loaded, and whether it can be loaded is unknown: %v; run modprobe %s on the host", err, f.Module)
		return c
	}
	if !listsModule(string(dep), f.Module) {
		c.Status = Fail
		c.Detail = fmt.Sprintf("not in this kernel, per %s: %s; use a kernel built with it", path.Join(dir, "modules.dep"), f.Why)
		return c
	}
	if f.Autoload {
		c.Status, c.Detail = Pass, "not loaded but loadable; the kernel loads it on first use"
		return c
	}
	c.Status = Warn
	c.Detail = fmt.Sprintf("not loaded but loadable: %s; run modprobe %s and list it in /etc/modules-load.d/ to keep it", f.Why, f.Module)
	return c
}

// featurePresent looks for signs that the feature is in the running kernel.
func featurePresent(env *Env, f kernelFeature) (string, bool) {
	if f.FSName != "" {
		if data, err := env.ReadFile("/proc/filesystems"); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if fields := strings.Fields(line); len(fields) > 0 && fields[len(fields)-1] == f.FSName {
					return "listed in /proc/filesystems", true
				}
			}
		}
	}
	for _, p := range append([]string{"/sys/module/" + f.Module}, f.Evidence...) {
		if _, err := env.Stat(p); err == nil {
			return p + " exists", true
		}
	}
	return "", false
}

// listsModule reports whether a modules.dep or modules.builtin file has an
// entry for module, e.g. "kernel/drivers/net/vxlan/vxlan.ko.zst: ...".
func listsModule(list, module string) bool {
	for _, line := range strings.Split(list, "\n") {
		file, _, _ := strings.Cut(line, ":")
		base := path.Base(strings.TrimSpace(file))
		if base == module+".ko" || strings.HasPrefix(base, module+".ko.") {
			return true
		}
	}
	return false
}
