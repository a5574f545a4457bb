package doctor

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

func run(h *fakeHost) Report {
	return Run(context.Background(), Options{Env: h.env()})
}

func find(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

// expect checks a check's status and that its detail mentions each want.
func expect(t *testing.T, c Check, status Status, wants ...string) {
	t.Helper()
	if c.Status != status {
		t.Errorf("%s: %s (%s), want %s", c.Name, c.Status, c.Detail, status)
	}
	for _, w := range wants {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("%s: detail %q does not mention %q", c.Name, c.Detail, w)
		}
	}
}

func TestHealthyHost(t *testing.T) {
	r := run(healthyHost())
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want := `  Docker engine reachable                  : PASS
  Privileged container works               : PASS
  cgroup version                           : PASS
  inotify max_user_watches                 : PASS
  inotify max_user_instances               : PASS
  Free memory                              : PASS
  Free disk for Docker root                : PASS
  Kernel feature: overlay                  : PASS
  Kernel feature: br_netfilter             : PASS
  Kernel feature: vxlan                    : PASS
  KVM device (/dev/kvm)                    : PASS
  debootstrap installed                    : PASS
`
	if buf.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", buf.String(), want)
	}
	if r.Failed() {
		t.Error("Failed() on a healthy host")
	}
	buf.Reset()
	_ = r.WriteVerbose(&buf)
	if !strings.Contains(buf.String(), "Free memory                              : PASS (12.0 GiB available)") {
		t.Errorf("verbose report lacks PASS details:\n%s", buf.String())
	}
}

func TestWriteShowsWarnAndFailDetail(t *testing.T) {
	r := Report{Checks: []Check{{"A", Pass, "fine"}, {"B", Warn, "why, what to do"}, {"C", Fail, "broken"}}}
	var buf bytes.Buffer
	_ = r.Write(&buf)
	want := "  A                                        : PASS\n" +
		"  B                                        : WARN (why, what to do)\n" +
		"  C                                        : FAIL (broken)\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	if !r.Failed() {
		t.Error("Failed() = false with a FAIL")
	}
}

func TestDockerUnreachable(t *testing.T) {
	h := healthyHost()
	h.cmds["docker version --format {{.Server.Version}}"] = result{err: errors.New("docker: exit status 1: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")}
	h.fs["/sys/fs/cgroup"] = FSInfo{Type: tmpfsMagic}
	r := run(h)
	expect(t, find(t, r, "Docker engine reachable"), Fail, "Cannot connect to the Docker daemon", "start dockerd")
	expect(t, find(t, r, "Privileged container works"), Warn, "not checked: the Docker engine is unreachable")
	expect(t, find(t, r, "Free disk for Docker root"), Warn, "not checked")
	expect(t, find(t, r, "cgroup version"), Warn, "cgroup v1, from /sys/fs/cgroup", "failCgroupV1: false")
	if !r.Failed() {
		t.Error("Failed() = false without a Docker engine")
	}
	for _, cmd := range h.ran {
		if strings.HasPrefix(cmd, "docker run") {
			t.Errorf("ran %q without an engine", cmd)
		}
	}
}

func TestNoDockerCLI(t *testing.T) {
	h := healthyHost()
	delete(h.paths, "docker")
	expect(t, find(t, run(h), "Docker engine reachable"), Fail, "apt-get install docker.io")
}

func TestCommandTimeout(t *testing.T) {
	h := healthyHost()
	env := h.env()
	env.Run = func(ctx context.Context, name string, args ...string) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}
	start := time.Now()
	r := Run(context.Background(), Options{Env: env, CommandTimeout: 20 * time.Millisecond})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s with a 20ms command timeout", d)
	}
	expect(t, find(t, r, "Docker engine reachable"), Fail, "deadline exceeded")
}

func TestPrivileged(t *testing.T) {
	const node = "nodelab.local/kind-node:v1.37.1"
	runCmd := func(img string) string {
		return "docker run --rm --privileged --pull=never --network=none --entrypoint /bin/true " + img
	}
	t.Run("node image", func(t *testing.T) {
		expect(t, find(t, run(healthyHost()), "Privileged container works"), Pass, node)
	})
	t.Run("no local image", func(t *testing.T) {
		h := healthyHost()
		delete(h.cmds, "docker image inspect --format {{.Id}} "+node)
		h.cmds["docker image ls --format {{.Repository}}:{{.Tag}}"] = result{out: ""}
		expect(t, find(t, run(h), "Privileged container works"), Warn, "not checked: no image is present locally", "never pulls", node)
	})
	t.Run("other images, first lacks /bin/true", func(t *testing.T) {
		h := healthyHost()
		delete(h.cmds, "docker image inspect --format {{.Id}} "+node)
		h.cmds["docker image ls --format {{.Repository}}:{{.Tag}}"] = result{out: "scratchy:1\n<none>:<none>\ndebian:bookworm\n"}
		h.cmds[runCmd("scratchy:1")] = result{err: errors.New(`docker: exit status 127: docker: Error response from daemon: failed to create task: exec: "/bin/true": stat /bin/true: no such file or directory: unknown.`)}
		h.cmds[runCmd("debian:bookworm")] = result{}
		expect(t, find(t, run(h), "Privileged container works"), Pass, "debian:bookworm")
	})
	t.Run("caps cannot be applied", func(t *testing.T) {
		h := healthyHost()
		h.cmds[runCmd(node)] = result{err: errors.New("docker: exit status 126: OCI runtime create failed: unable to apply caps: operation not permitted")}
		r := run(h)
		expect(t, find(t, r, "Privileged container works"), Fail, "unable to apply caps", "capability bounding set")
		if !r.Failed() {
			t.Error("Failed() = false")
		}
	})
	t.Run("rootless", func(t *testing.T) {
		h := healthyHost()
		h.cmds[runCmd(node)] = result{err: errors.New("docker: exit status 125: permission denied")}
		expect(t, find(t, run(h), "Privileged container works"), Fail, "rootful Docker engine")
	})
}

func TestCgroupVersion(t *testing.T) {
	h := healthyHost()
	expect(t, find(t, run(h), "cgroup version"), Pass, "cgroup v2, from docker info")
	h.cmds["docker info --format {{json .}}"] = result{out: `{"CgroupVersion":"1","DockerRootDir":"/var/lib/docker"}`}
	expect(t, find(t, run(h), "cgroup version"), Warn, "cgroup v1, from docker info", "Kubernetes ≥ 1.35", "failCgroupV1: false", "nodelab sets")
}

func TestInotify(t *testing.T) {
	h := healthyHost()
	h.files["/proc/sys/fs/inotify/max_user_watches"] = "8192\n"
	delete(h.files, "/proc/sys/fs/inotify/max_user_instances")
	r := run(h)
	expect(t, find(t, r, "inotify max_user_watches"), Warn, "8192 < 524288", "sysctl -w fs.inotify.max_user_watches=524288")
	expect(t, find(t, r, "inotify max_user_instances"), Warn, "could not read")
}

func TestMemory(t *testing.T) {
	for _, c := range []struct {
		meminfo string
		status  Status
		want    string
	}{
		{"MemAvailable:    5242880 kB\n", Pass, "5.0 GiB available"},
		{"MemAvailable:    3145728 kB\n", Warn, "use fewer workers"},
		{"MemAvailable:    1048576 kB\n", Fail, "a lab will not fit"},
		{"MemTotal:    1048576 kB\n", Warn, "no MemAvailable"},
	} {
		h := healthyHost()
		h.files["/proc/meminfo"] = c.meminfo
		expect(t, find(t, run(h), "Free memory"), c.status, c.want)
	}
}

func TestDisk(t *testing.T) {
	for _, c := range []struct {
		avail  uint64
		status Status
		want   string
	}{
		{25 * gib, Pass, "25.0 GiB free in /var/lib/docker"},
		{10 * gib, Warn, "docker system prune"},
		{1 * gib, Fail, "a lab will not fit"},
	} {
		h := healthyHost()
		h.fs["/var/lib/docker"] = FSInfo{Avail: c.avail}
		expect(t, find(t, run(h), "Free disk for Docker root"), c.status, c.want)
	}
	h := healthyHost()
	delete(h.fs, "/var/lib/docker")
	expect(t, find(t, run(h), "Free disk for Docker root"), Warn, "another machine")
}

func TestKernelFeatures(t *testing.T) {
	const dir = "/lib/modules/6.8.0-45-generic/"
	unload := func(h *fakeHost) {
		delete(h.devices, "/sys/module/br_netfilter")
		delete(h.devices, "/sys/module/vxlan")
		delete(h.devices, "/sys/module/overlay")
		delete(h.devices, "/proc/sys/net/bridge/dummy")
		h.files["/proc/filesystems"] = "nodev\tsysfs\n\text4\n"
	}
	t.Run("evidence", func(t *testing.T) {
		h := healthyHost()
		delete(h.devices, "/sys/module/br_netfilter") // built in: no /sys/module entry
		h.devices["/proc/sys/net/bridge/bridge-nf-call-iptables"] = 0o644
		r := run(h)
		expect(t, find(t, r, "Kernel feature: br_netfilter"), Pass, "bridge-nf-call-iptables exists")
		expect(t, find(t, r, "Kernel feature: overlay"), Pass, "/proc/filesystems")
	})
	t.Run("loadable", func(t *testing.T) {
		h := healthyHost()
		unload(h)
		h.files[dir+"modules.builtin"] = "kernel/fs/ext4/ext4.ko\n"
		h.files[dir+"modules.dep"] = "kernel/fs/overlayfs/overlay.ko.zst:\nkernel/net/bridge/br_netfilter.ko.zst: kernel/net/bridge/bridge.ko.zst\nkernel/drivers/net/vxlan/vxlan.ko: kernel/net/ipv4/udp_tunnel.ko\n"
		r := run(h)
		expect(t, find(t, r, "Kernel feature: br_netfilter"), Warn, "not loaded but loadable", "modprobe br_netfilter", "/etc/modules-load.d/")
		expect(t, find(t, r, "Kernel feature: vxlan"), Pass, "loads it on first use")
		expect(t, find(t, r, "Kernel feature: overlay"), Pass, "loads it on first use")
	})
	t.Run("built in", func(t *testing.T) {
		h := healthyHost()
		unload(h)
		h.files[dir+"modules.builtin"] = "kernel/drivers/net/vxlan/vxlan.ko\n"
		h.files[dir+"modules.dep"] = ""
		r := run(h)
		expect(t, find(t, r, "Kernel feature: vxlan"), Pass, "built into the kernel")
		expect(t, find(t, r, "Kernel feature: br_netfilter"), Fail, "not in this kernel", "iptables")
		expect(t, find(t, r, "Kernel feature: overlay"), Fail, "not in this kernel")
		if !r.Failed() {
			t.Error("Failed() = false with missing modules")
		}
	})
	t.Run("unknown", func(t *testing.T) {
		h := healthyHost()
		unload(h)
		expect(t, find(t, run(h), "Kernel feature: vxlan"), Warn, "unknown", "modprobe vxlan")
	})
}

func TestListsModule(t *testing.T) {
	list := "kernel/drivers/net/vxlan/vxlan.ko.xz: a\nkernel/net/bridge/br_netfilter.ko:\n"
	for m, want := range map[string]bool{"vxlan": true, "br_netfilter": true, "bridge": false, "vxla": false, "overlay": false} {
		if got := listsModule(list, m); got != want {
			t.Errorf("listsModule(%s) = %v, want %v", m, got, want)
		}
	}
}

func TestKVM(t *testing.T) {
	h := healthyHost()
	expect(t, find(t, run(h), "KVM device (/dev/kvm)"), Pass, "accessible")

	h.openErr = &fs.PathError{Op: "open", Path: "/dev/kvm", Err: fs.ErrPermission}
	expect(t, find(t, run(h), "KVM device (/dev/kvm)"), Warn, "permission denied", "kvm group", "KubeVirt scenarios will skip")

	h.devices["/dev/kvm"] = 0o644
	expect(t, find(t, run(h), "KVM device (/dev/kvm)"), Warn, "not a character device")

	delete(h.devices, "/dev/kvm")
	expect(t, find(t, run(h), "KVM device (/dev/kvm)"), Warn, "absent: stat /dev/kvm: file does not exist", "KubeVirt scenarios will skip")
}

func TestDebootstrap(t *testing.T) {
	h := healthyHost()
	delete(h.paths, "debootstrap") // not in a normal user's PATH
	expect(t, find(t, run(h), "debootstrap installed"), Pass, "/usr/sbin/debootstrap")
	delete(h.devices, "/usr/sbin/debootstrap")
	expect(t, find(t, run(h), "debootstrap installed"), Warn, "apt-get install debootstrap", "forge")
}

// TestThisHost runs every check for real. It asserts only what holds on
// any machine; `go test -v` shows the report.
func TestThisHost(t *testing.T) {
	if testing.Short() {
		t.Skip("runs docker commands")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := Run(ctx, Options{})
	var buf bytes.Buffer
	_ = r.WriteVerbose(&buf)
	t.Log("\n" + buf.String())
	if len(r.Checks) != 12 {
		t.Errorf("%d checks, want 12", len(r.Checks))
	}
	for _, c := range r.Checks {
		if c.Status != Pass && c.Detail == "" {
			t.Errorf("%s is %s without a reason", c.Name, c.Status)
		}
	}
}
