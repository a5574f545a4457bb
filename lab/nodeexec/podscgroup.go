package nodeexec

import (
	"fmt"
	"strings"
)

// PodsCgroupPath is the cgroup path of the kubelet's pods cgroup
// ("kubepods"), the parent of every pod's, for a kubelet's cgroupDriver and
// cgroupRoot (its /configz): with kind's settings
// /kubelet.slice/kubelet-kubepods.slice (systemd) or /kubelet/kubepods
// (cgroupfs); with the kubelet's defaults /kubepods.slice or /kubepods.
// With enforceNodeAllocatable "pods" the kubelet limits its memory to the
// node's capacity minus kubeReserved and systemReserved.
func PodsCgroupPath(driver CgroupDriver, root string) (string, error) {
	var name []string
	for _, p := range strings.Split(root, "/") {
		if p != "" {
			name = append(name, p)
		}
	}
	name = append(name, "kubepods")
	if driver != DriverSystemd && driver != DriverCgroupfs {
		return "", fmt.Errorf("cgroup driver %q is neither %s nor %s", driver, DriverSystemd, DriverCgroupfs)
	}
	return cgroupPath(driver, name), nil
}
