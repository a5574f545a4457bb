package nodeexec

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParseCgroupFSType(t *testing.T) {
	for in, want := range map[string]CgroupVersion{"cgroup2fs\n": CgroupV2, "tmpfs\n": CgroupV1} {
		if got, err := ParseCgroupFSType(in); err != nil || got != want {
			t.Errorf("ParseCgroupFSType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseCgroupFSType("ext2/ext3\n"); err == nil || !strings.Contains(err.Error(), `"ext2/ext3"`) {
		t.Errorf("unknown type: %v", err)
	}
}

func TestMemoryCgroupDir(t *testing.T) {
	if got := MemoryCgroupDir(CgroupV1, "/kubelet.slice/x.slice"); got != "/sys/fs/cgroup/memory/kubelet.slice/x.slice" {
		t.Errorf("v1: %s", got)
	}
	if got := MemoryCgroupDir(CgroupV2, "/kubelet.slice/x.slice"); got != "/sys/fs/cgroup/kubelet.slice/x.slice" {
		t.Errorf("v2: %s", got)
	}
}

const (
	uid = "8f0c2a1e-5b7d-4c39-9e61-2d4b8a7f3c10"
	cid = "3b8a1c0d9e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"
)

func TestContainerCgroupPath(t *testing.T) {
	const u = "8f0c2a1e_5b7d_4c39_9e61_2d4b8a7f3c10"
	for _, c := range []struct {
		in   ContainerCgroup
		want string
	}{
		{ // kind: systemd driver, cgroupRoot /kubelet
			ContainerCgroup{Driver: DriverSystemd, Root: KindCgroupRoot, QOS: corev1.PodQOSBurstable, PodUID: uid, ContainerID: "containerd://" + cid},
			"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod" + u + ".slice/cri-containerd-" + cid + ".scope",
		},
		{ // plain kubelet defaults
			ContainerCgroup{Driver: DriverSystemd, QOS: corev1.PodQOSBestEffort, PodUID: uid, ContainerID: cid},
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u + ".slice/cri-containerd-" + cid + ".scope",
		},
		{ // Guaranteed pods have no QoS level
			ContainerCgroup{Driver: DriverSystemd, Root: "/", QOS: corev1.PodQOSGuaranteed, PodUID: uid, ContainerID: "cri-o://" + cid},
			"/kubepods.slice/kubepods-pod" + u + ".slice/crio-" + cid + ".scope",
		},
		{
			ContainerCgroup{Driver: DriverCgroupfs, Root: KindCgroupRoot, QOS: corev1.PodQOSBurstable, PodUID: uid, ContainerID: "containerd://" + cid},
			"/kubelet/kubepods/burstable/pod" + uid + "/" + cid,
		},
		{
			ContainerCgroup{Driver: DriverCgroupfs, QOS: corev1.PodQOSGuaranteed, PodUID: uid, ContainerID: cid},
			"/kubepods/pod" + uid + "/" + cid,
		},
		{ // a root with a dash is escaped like any component
			ContainerCgroup{Driver: DriverSystemd, Root: "/lab-a", QOS: corev1.PodQOSGuaranteed, PodUID: uid, ContainerID: cid},
			"/lab_a.slice/lab_a-kubepods.slice/lab_a-kubepods-pod" + u + ".slice/cri-containerd-" + cid + ".scope",
		},
	} {
		got, err := c.in.Path()
		if err != nil || got != c.want {
			t.Errorf("%+v.Path() =\n  %s, %v\nwant\n  %s", c.in, got, err, c.want)
		}
	}
}

func TestContainerCgroupPathErrors(t *testing.T) {
	_, err := ContainerCgroup{Driver: "openrc", QOS: "Premium", PodUID: "", ContainerID: "rkt://x"}.Path()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`pod UID ""`, `QoS class "Premium"`, `cgroup driver "openrc"`, `container runtime "rkt"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestCandidateCgroupDirs(t *testing.T) {
	c := ContainerCgroup{QOS: corev1.PodQOSBurstable, PodUID: uid, ContainerID: cid}
	dirs, err := CandidateCgroupDirs(CgroupV1, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 4 || !strings.HasPrefix(dirs[0], "/sys/fs/cgroup/memory/kubelet.slice/") || !strings.HasPrefix(dirs[2], "/sys/fs/cgroup/memory/kubelet/kubepods/burstable/") {
		t.Errorf("v1 candidates: %q", dirs)
	}
}

func TestFindContainerCgroup(t *testing.T) {
	c := ContainerCgroup{QOS: corev1.PodQOSBurstable, PodUID: uid, ContainerID: "containerd://" + cid}
	want := "/sys/fs/cgroup/kubelet/kubepods/burstable/pod" + uid + "/" + cid
	node := &scriptedNode{answer: func(cmd string, args []string) (string, string, error) {
		switch cmd {
		case "stat":
			return "cgroup2fs\n", "", nil
		case "sh":
			for _, a := range args[3:] {
				if a == want {
					return a + "\n", "", nil
				}
			}
			return "", "", nil
		}
		return "", "unexpected", errors.New("exit status 127")
	}}
	dir, v, err := FindContainerCgroup(context.Background(), node, c)
	if err != nil || dir != want || v != CgroupV2 {
		t.Errorf("FindContainerCgroup = %s, %v, %v; want %s", dir, v, err, want)
	}

	c.PodUID = "00000000-0000-0000-0000-000000000000"
	_, _, err = FindContainerCgroup(context.Background(), node, c)
	if err == nil || !strings.Contains(err.Error(), "none of /sys/fs/cgroup/kubelet.slice/") || !strings.Contains(err.Error(), "is the container running") {
		t.Errorf("missing container: %v", err)
	}
}

func TestCpusetFile(t *testing.T) {
	p := "/kubelet.slice/kubelet-kubepods.slice/cri-containerd-abc.scope"
	if got := CpusetFile(CgroupV1, p); got != "/sys/fs/cgroup/cpuset/kubelet.slice/kubelet-kubepods.slice/cri-containerd-abc.scope/cpuset.cpus" {
		t.Errorf("v1: %s", got)
	}
	if got := CpusetFile(CgroupV2, p); got != "/sys/fs/cgroup/kubelet.slice/kubelet-kubepods.slice/cri-containerd-abc.scope/cpuset.cpus.effective" {
		t.Errorf("v2: %s", got)
	}
	if got := CpusetFile(CgroupV1, "/"); got != "/sys/fs/cgroup/cpuset/cpuset.cpus" {
		t.Errorf("v1 root: %s", got)
	}
}
