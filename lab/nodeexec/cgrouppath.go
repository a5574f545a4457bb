package nodeexec

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// CgroupDriver is the kubelet's (and container runtime's) cgroup driver.
type CgroupDriver string

const (
	// DriverSystemd names cgroups as systemd slices and scopes; kind uses
	// it for Kubernetes ≥ 1.24.
	DriverSystemd CgroupDriver = "systemd"
	// DriverCgroupfs writes plain cgroup directories.
	DriverCgroupfs CgroupDriver = "cgroupfs"
)

// KindCgroupRoot is the kubelet cgroupRoot kind configures, so that the
// node's pods live under /kubelet (cgroupfs) or /kubelet.slice (systemd)
// rather than next to the node's own system services.
const KindCgroupRoot = "/kubelet"

// ContainerCgroup identifies a container's cgroup the way the kubelet and
// the container runtime name it.
type ContainerCgroup struct {
	// Driver is the cgroup driver; kind uses DriverSystemd.
	Driver CgroupDriver
	// Root is the kubelet's cgroupRoot, cgroupfs style: KindCgroupRoot in
	// kind, "" or "/" for the kubelet default.
	Root string
	// QOS is the pod's status.qosClass.
	QOS corev1.PodQOSClass
	// PodUID is the pod's metadata.uid.
	PodUID string
	// ContainerID is the container's status.containerID
	// ("containerd://<id>") or a bare ID (containerd assumed).
	ContainerID string
}

// PodPath is the cgroup path of the pod, e.g. with kind's settings
// /kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod<uid>.slice
// where <uid> has its dashes turned into underscores.
func (c ContainerCgroup) PodPath() (string, error) {
	var errs []error
	if c.PodUID == "" || strings.ContainsAny(c.PodUID, "/ ") {
		errs = append(errs, fmt.Errorf("pod UID %q is not a UID; pass the pod's metadata.uid", c.PodUID))
	}
	qos, err := qosComponent(c.QOS)
	if err != nil {
		errs = append(errs, err)
	}
	if c.Driver != DriverSystemd && c.Driver != DriverCgroupfs {
		errs = append(errs, fmt.Errorf("cgroup driver %q is neither %s nor %s", c.Driver, DriverSystemd, DriverCgroupfs))
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}

	// The kubelet's CgroupName: root components, "kubepods", the QoS class
	// unless Guaranteed, "pod<uid>".
	var name []string
	for _, p := range strings.Split(c.Root, "/") {
		if p != "" {
			name = append(name, p)
		}
	}
	name = append(name, "kubepods")
	if qos != "" {
		name = append(name, qos)
	}
	name = append(name, "pod"+c.PodUID)

	return cgroupPath(c.Driver, name), nil
}

// cgroupPath turns the kubelet's CgroupName components into the path the
// driver writes.
func cgroupPath(driver CgroupDriver, name []string) string {
	if driver == DriverCgroupfs {
		return "/" + path.Join(name...)
	}
	// systemd: escape "-" as "_" in each component, join them with "-" into
	// one slice name, then expand it into its parent slices, as the
	// kubelet's CgroupName.ToSystemd and runc's ExpandSlice do.
	var b strings.Builder
	prefix := ""
	for _, part := range name {
		prefix += strings.ReplaceAll(part, "-", "_")
		b.WriteString("/" + prefix + ".slice")
		prefix += "-"
	}
	return b.String()
}

// Path is the container's cgroup path: the pod path plus
// cri-containerd-<id>.scope (systemd) or <id> (cgroupfs).
func (c ContainerCgroup) Path() (string, error) {
	pod, err := c.PodPath()
	runtime, id, idErr := splitContainerID(c.ContainerID)
	if err = errors.Join(err, idErr); err != nil {
		return "", fmt.Errorf("container cgroup path: %w", err)
	}
	if c.Driver == DriverCgroupfs {
		return pod + "/" + id, nil
	}
	return pod + "/" + scopePrefix[runtime] + "-" + id + ".scope", nil
}

// scopePrefix maps a CRI runtime (the scheme of status.containerID) to the
// prefix of the systemd scope it runs containers in.
var scopePrefix = map[string]string{
	"containerd": "cri-containerd",
	"cri-o":      "crio",
	"docker":     "docker",
}

func splitContainerID(s string) (runtime, id string, err error) {
	runtime, id, found := strings.Cut(s, "://")
	if !found {
		runtime, id = "containerd", s
	}
	if _, ok := scopePrefix[runtime]; !ok {
		return "", "", fmt.Errorf("container runtime %q in container ID %q is not containerd, cri-o or docker", runtime, s)
	}
	if id == "" || strings.ContainsAny(id, "/ .") {
		return "", "", fmt.Errorf("container ID %q is not a container ID; pass the container's status.containerID", s)
	}
	return runtime, id, nil
}

func qosComponent(q corev1.PodQOSClass) (string, error) {
	switch q {
	case corev1.PodQOSGuaranteed:
		return "", nil
	case corev1.PodQOSBurstable:
		return "burstable", nil
	case corev1.PodQOSBestEffort:
		return "besteffort", nil
	}
	return "", fmt.Errorf("QoS class %q is not Guaranteed, Burstable or BestEffort; pass the pod's status.qosClass", q)
}

// FindContainerCgroup returns the memory cgroup directory of a container
// inside the node and the node's cgroup version. It detects the version,
// then looks for the container under both drivers and both kind's and the
// default cgroupRoot, so it works whatever kind (or its node image)
// configured; Driver and Root in c are ignored. The error lists every
// directory tried.
func FindContainerCgroup(ctx context.Context, node Node, c ContainerCgroup) (string, CgroupVersion, error) {
	v, err := DetectCgroupVersion(ctx, node)
	if err != nil {
		return "", 0, fmt.Errorf("find container cgroup: %w", err)
	}
	candidates, err := CandidateCgroupDirs(v, c)
	if err != nil {
		return "", v, fmt.Errorf("find container cgroup: %w", err)
	}
	out, err := Run(ctx, node, "sh", append([]string{"-c", `for d; do if [ -d "$d" ]; then echo "$d"; exit 0; fi; done`, "sh"}, candidates...)...)
	if err != nil {
		return "", v, fmt.Errorf("find container cgroup: %w", err)
	}
	if dir := strings.TrimSpace(out); dir != "" {
		return dir, v, nil
	}
	return "", v, fmt.Errorf("find cgroup of container %s (pod %s) on node %s: none of %s exists; is the container running, and is the QoS class right?",
		c.ContainerID, c.PodUID, node, strings.Join(candidates, ", "))
}

// CandidateCgroupDirs lists where a container's memory cgroup may be under
// cgroup version v, most likely first: kind's systemd layout, then the
// cgroupfs one, each under kind's and the default cgroupRoot.
func CandidateCgroupDirs(v CgroupVersion, c ContainerCgroup) ([]string, error) {
	var dirs []string
	for _, driver := range []CgroupDriver{DriverSystemd, DriverCgroupfs} {
		for _, root := range []string{KindCgroupRoot, ""} {
			c.Driver, c.Root = driver, root
			p, err := c.Path()
			if err != nil {
				return nil, err
			}
			dirs = append(dirs, MemoryCgroupDir(v, p))
		}
	}
	return dirs, nil
}
