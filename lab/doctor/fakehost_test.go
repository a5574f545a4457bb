package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// fakeHost is a host described by data: files, devices, filesystems,
// executables and command results.
type fakeHost struct {
	files   map[string]string
	devices map[string]fs.FileMode
	openErr error
	fs      map[string]FSInfo
	paths   map[string]string
	cmds    map[string]result // by "name arg arg"
	ran     []string
}

type result struct {
	out string
	err error
}

// healthyHost passes every check: cgroup v2, KVM, all modules loaded.
func healthyHost() *fakeHost {
	return &fakeHost{
		files: map[string]string{
			"/proc/sys/fs/inotify/max_user_watches":   "1048576\n",
			"/proc/sys/fs/inotify/max_user_instances": "8192\n",
			"/proc/meminfo":              "MemTotal:       16303428 kB\nMemFree:         1234 kB\nMemAvailable:   12582912 kB\n",
			"/proc/filesystems":          "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n",
			"/proc/sys/kernel/osrelease": "6.8.0-45-generic\n",
		},
		devices: map[string]fs.FileMode{
			"/dev/kvm":                   fs.ModeDevice | fs.ModeCharDevice | 0o660,
			"/sys/module/br_netfilter":   fs.ModeDir | 0o755,
			"/sys/module/vxlan":          fs.ModeDir | 0o755,
			"/sys/module/overlay":        fs.ModeDir | 0o755,
			"/usr/sbin/debootstrap":      0o755,
			"/proc/sys/net/bridge/dummy": 0o644,
		},
		fs: map[string]FSInfo{
			"/var/lib/docker": {Avail: 100 * gib},
			"/sys/fs/cgroup":  {Type: cgroup2Magic},
		},
		paths: map[string]string{"docker": "/usr/bin/docker", "debootstrap": "/usr/sbin/debootstrap"},
		cmds: map[string]result{
			"docker version --format {{.Server.Version}}":                                                                     {out: "28.2.2\n"},
			"docker info --format {{json .}}":                                                                                 {out: `{"ServerVersion":"28.2.2","CgroupVersion":"2","CgroupDriver":"systemd","DockerRootDir":"/var/lib/docker","MemTotal":16694706176}`},
			"docker image inspect --format {{.Id}} nodelab.local/kind-node:v1.37.1":                                           {out: "sha256:abc\n"},
			"docker image ls --format {{.Repository}}:{{.Tag}}":                                                               {out: "nodelab.local/kind-node:v1.37.1\n"},
			"docker run --rm --privileged --pull=never --network=none --entrypoint /bin/true nodelab.local/kind-node:v1.37.1": {},
		},
	}
}

func (h *fakeHost) env() *Env {
	notExist := func(op, p string) error { return &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist} }
	return &Env{
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := h.files[p]; ok {
				return []byte(s), nil
			}
			return nil, notExist("open", p)
		},
		Stat: func(p string) (fs.FileInfo, error) {
			if m, ok := h.devices[p]; ok {
				return fakeInfo{name: p, mode: m}, nil
			}
			if _, ok := h.files[p]; ok {
				return fakeInfo{name: p, mode: 0o644}, nil
			}
			return nil, notExist("stat", p)
		},
		OpenReadWrite: func(p string) error {
			if _, ok := h.devices[p]; !ok {
				return notExist("open", p)
			}
			return h.openErr
		},
		Statfs: func(p string) (FSInfo, error) {
			if i, ok := h.fs[p]; ok {
				return i, nil
			}
			return FSInfo{}, fmt.Errorf("no such file or directory")
		},
		LookPath: func(file string) (string, error) {
			if p, ok := h.paths[file]; ok {
				return p, nil
			}
			return "", errors.New(`exec: "` + file + `": executable file not found in $PATH`)
		},
		Run: func(ctx context.Context, name string, args ...string) (string, error) {
			key := strings.Join(append([]string{name}, args...), " ")
			h.ran = append(h.ran, key)
			r, ok := h.cmds[key]
			if !ok {
				return "", fmt.Errorf("%s: exit status 1: unexpected command %q", name, key)
			}
			return r.out, r.err
		},
	}
}

type fakeInfo struct {
	name string
	mode fs.FileMode
}

func (i fakeInfo) Name() string       { return i.name }
func (i fakeInfo) Size() int64        { return 0 }
func (i fakeInfo) Mode() fs.FileMode  { return i.mode }
func (i fakeInfo) ModTime() time.Time { return time.Time{} }
func (i fakeInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fakeInfo) Sys() any           { return nil }
