package crictl

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fakeRuntime is an in-memory CRI.
type fakeRuntime struct {
	images     []Image
	containers []Container
	pods       []Pod
	err        error
}

func (f *fakeRuntime) ListImages(context.Context) ([]Image, error) { return f.images, f.err }

func (f *fakeRuntime) ImageStatus(_ context.Context, ref string) (*Image, map[string]string, error) {
	for _, img := range f.images {
		if img.ID == ref {
			return &img, map[string]string{"info": `{"chainID":"sha256:abc"}`, "note": "plain"}, nil
		}
		for _, t := range img.RepoTags {
			if t == ref {
				return &img, map[string]string{"info": `{"chainID":"sha256:abc"}`}, nil
			}
		}
	}
	return nil, nil, f.err
}

func (f *fakeRuntime) ListContainers(context.Context) ([]Container, error) {
	return f.containers, f.err
}
func (f *fakeRuntime) ListPods(context.Context) ([]Pod, error) { return f.pods, f.err }

var pause = Image{
	ID:          "sha256:cd073f4c5f6a8e9dc6f3125ba00cf60819cae95c1ec84a1f146ee4a9cf9e803f",
	RepoTags:    []string{"example.test/pause:3.10.2"},
	RepoDigests: []string{"example.test/pause@sha256:0123"},
	Size:        690920,
	Pinned:      true,
}

func runCmd(t *testing.T, rt *fakeRuntime, args ...string) (code int, stdout, stderr string, endpoint string) {
	t.Helper()
	var out, errOut strings.Builder
	code = Run(context.Background(), args, Env{
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(string) string { return "" },
		ReadConfig: func() ([]byte, error) {
			return []byte("runtime-endpoint: unix:///run/containerd/containerd.sock\n"), nil
		},
		Connect: func(_ context.Context, ep string) (Runtime, error) {
			endpoint = ep
			return rt, nil
		},
		Now: func() time.Time { return now },
	})
	return code, out.String(), errOut.String(), endpoint
}

// TestInspectiAsKindReadsIt decodes the output with the struct kind's
// nodeutils.ImageID and ImageTags use.
func TestInspectiAsKindReadsIt(t *testing.T) {
	rt := &fakeRuntime{images: []Image{pause}}
	code, out, errOut, ep := runCmd(t, rt, "inspecti", "example.test/pause:3.10.2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if ep != DefaultEndpoint {
		t.Errorf("endpoint %q", ep)
	}
	var kind struct {
		Status struct {
			ID       string   `json:"id"`
			RepoTags []string `json:"repoTags"`
			Size     string   `json:"size"`
			Pinned   bool     `json:"pinned"`
		} `json:"status"`
		Info map[string]any `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &kind); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if kind.Status.ID != pause.ID || len(kind.Status.RepoTags) != 1 || kind.Status.RepoTags[0] != "example.test/pause:3.10.2" {
		t.Errorf("status = %+v", kind.Status)
	}
	if kind.Status.Size != "690920" || !kind.Status.Pinned {
		t.Errorf("size %q pinned %v, want the protojson string 690920 and true", kind.Status.Size, kind.Status.Pinned)
	}
	if info, ok := kind.Info["info"].(map[string]any); !ok || info["chainID"] != "sha256:abc" {
		t.Errorf("info JSON not embedded as JSON: %v", kind.Info)
	}

	// By ID too (kind's second call), and -q drops info.
	_, out, _, _ = runCmd(t, rt, "inspecti", "-q", pause.ID)
	if strings.Contains(out, "info") || !strings.Contains(out, `"id": "`+pause.ID+`"`) {
		t.Errorf("inspecti -q by ID:\n%s", out)
	}
}

func TestInspectiMissingImageFails(t *testing.T) {
	code, out, errOut, _ := runCmd(t, &fakeRuntime{}, "inspecti", "example.test/nope:1")
	if code == 0 || out != "" || !strings.Contains(errOut, `no such image "example.test/nope:1"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestImages(t *testing.T) {
	untagged := Image{ID: "sha256:aaaaaaaaaaaaaaaaaaaa", RepoDigests: []string{"example.test/kindest/x@sha256:1"}, Size: 27731571}
	multi := Image{ID: "sha256:bbbbbbbbbbbbbbbbbbbb", RepoTags: []string{"localhost:5000/app:v1", "localhost:5000/app:latest"}, Size: 1_500_000_000}
	rt := &fakeRuntime{images: []Image{pause, untagged, multi}}
	code, out, errOut, _ := runCmd(t, rt, "images")
	if code != 0 {
		t.Fatal(errOut)
	}
	want := `IMAGE                    TAG                 IMAGE ID            SIZE
example.test/kindest/x   <none>              aaaaaaaaaaaaa       27.7MB
example.test/pause       3.10.2              cd073f4c5f6a8       691kB
localhost:5000/app       v1                  bbbbbbbbbbbbb       1.5GB
localhost:5000/app       latest              bbbbbbbbbbbbb       1.5GB
`
	if out != want {
		t.Errorf("images:\n%s\nwant:\n%s", out, want)
	}
	_, out, _, _ = runCmd(t, rt, "images", "-q")
	if lines := strings.Fields(out); len(lines) != 3 || lines[1] != pause.ID {
		t.Errorf("images -q: %q", out)
	}
}

func TestPsAndPods(t *testing.T) {
	rt := &fakeRuntime{
		containers: []Container{
			{ID: "c1aaaaaaaaaaaaaaaa", PodID: "p1bbbbbbbbbbbbbbbb", PodName: "coredns-1", Name: "coredns", Image: "sha256:1234567890abcdef", State: "CONTAINER_RUNNING", Attempt: 1, CreatedAt: now.Add(-90 * time.Second)},
			{ID: "c2aaaaaaaaaaaaaaaa", PodID: "p2bbbbbbbbbbbbbbbb", PodName: "etcd-cp", Name: "etcd", Image: "example.test/etcd:3.7.0-0", State: "CONTAINER_EXITED", CreatedAt: now.Add(-3 * time.Hour)},
			{ID: "c3aaaaaaaaaaaaaaaa", PodID: "p2bbbbbbbbbbbbbbbb", PodName: "etcd-cp", Name: "etcd", Image: "example.test/etcd:3.7.0-0", State: "CONTAINER_RUNNING", Attempt: 2, CreatedAt: now.Add(-5 * time.Second)},
		},
		pods: []Pod{
			{ID: "p1bbbbbbbbbbbbbbbb", Name: "coredns-1", Namespace: "kube-system", State: "SANDBOX_READY", CreatedAt: now.Add(-2 * time.Minute)},
			{ID: "p2bbbbbbbbbbbbbbbb", Name: "etcd-cp", Namespace: "kube-system", State: "SANDBOX_NOTREADY", RuntimeHandler: "runc", CreatedAt: now.Add(-50 * time.Hour)},
		},
	}
	_, out, _, _ := runCmd(t, rt, "ps")
	want := `CONTAINER           IMAGE                       CREATED              STATE               NAME                ATTEMPT             POD ID              POD
c3aaaaaaaaaaa       example.test/etcd:3.7.0-0   5 seconds ago        Running             etcd                2                   p2bbbbbbbbbbb       etcd-cp
c1aaaaaaaaaaa       1234567890abc               About a minute ago   Running             coredns             1                   p1bbbbbbbbbbb       coredns-1
`
	if out != want {
		t.Errorf("ps:\n%s\nwant:\n%s", out, want)
	}
	_, out, _, _ = runCmd(t, rt, "ps", "-a", "-q")
	if out != "c3aaaaaaaaaaaaaaaa\nc1aaaaaaaaaaaaaaaa\nc2aaaaaaaaaaaaaaaa\n" {
		t.Errorf("ps -a -q: %q", out)
	}
	_, out, _, _ = runCmd(t, rt, "pods")
	want = `POD ID              CREATED             STATE               NAME                NAMESPACE           ATTEMPT             RUNTIME
p1bbbbbbbbbbb       2 minutes ago       Ready               coredns-1           kube-system         0                   (default)
p2bbbbbbbbbbb       2 days ago          NotReady            etcd-cp             kube-system         0                   runc
`
	if out != want {
		t.Errorf("pods:\n%s\nwant:\n%s", out, want)
	}
}

func TestUsageAndErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		in   string
	}{
		{nil, 1, "no command"},
		{[]string{"rmi", "x"}, 1, `unknown command "rmi"`},
		{[]string{"inspecti"}, 1, "name an image"},
		{[]string{"inspecti", "-o", "yaml", "x"}, 1, "json only"},
		{[]string{"ps", "--bogus"}, 1, "bogus"},
		{[]string{"--help"}, 0, "usage: crictl"},
	} {
		code, out, errOut, _ := runCmd(t, &fakeRuntime{}, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.in) {
			t.Errorf("%q: exit %d, output %q; want exit %d mentioning %q", tc.args, code, out+errOut, tc.code, tc.in)
		}
	}
	code, _, errOut, _ := runCmd(t, &fakeRuntime{err: errors.New("connection refused")}, "images")
	if code != 1 || !strings.Contains(errOut, "list images: connection refused") {
		t.Errorf("runtime error: exit %d, %q", code, errOut)
	}
}

func TestResolveEndpoint(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	cfg := func() ([]byte, error) { return []byte("timeout: 2\nruntime-endpoint: \"unix:///cfg.sock\"\n"), nil }
	noCfg := func() ([]byte, error) { return nil, errors.New("absent") }
	for _, tc := range []struct {
		flag, env string
		cfg       func() ([]byte, error)
		want      string
	}{
		{"unix:///flag.sock", "unix:///env.sock", cfg, "unix:///flag.sock"},
		{"", "unix:///env.sock", cfg, "unix:///env.sock"},
		{"", "", cfg, "unix:///cfg.sock"},
		{"", "", noCfg, DefaultEndpoint},
	} {
		if got := ResolveEndpoint(tc.flag, env(tc.env), tc.cfg); got != tc.want {
			t.Errorf("ResolveEndpoint(%q, env %q) = %q, want %q", tc.flag, tc.env, got, tc.want)
		}
	}
	_, _, _, ep := runCmd(t, &fakeRuntime{}, "-r", "unix:///x.sock", "images")
	if ep != "unix:///x.sock" {
		t.Errorf("-r ignored: %q", ep)
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[uint64]string{0: "0B", 999: "999B", 1000: "1kB", 690920: "691kB", 27731571: "27.7MB", 95965346: "96MB"} {
		if got := HumanSize(in); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", in, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "Less than a second ago", time.Second: "1 second ago", 61 * time.Second: "About a minute ago",
		50 * time.Minute: "50 minutes ago", 70 * time.Minute: "About an hour ago", 5 * time.Hour: "5 hours ago",
		72 * time.Hour: "3 days ago", 21 * 24 * time.Hour: "3 weeks ago", 90 * 24 * time.Hour: "3 months ago",
		3 * 365 * 24 * time.Hour: "3 years ago",
	} {
		if got := Ago(now, now.Add(-d)); got != want {
			t.Errorf("Ago(%s) = %q, want %q", d, got, want)
		}
	}
	for in, want := range map[string]string{"CONTAINER_RUNNING": "Running", "CONTAINER_EXITED": "Exited", "SANDBOX_READY": "Ready", "SANDBOX_NOTREADY": "NotReady", "": "Unknown"} {
		if got := StateName(in); got != want {
			t.Errorf("StateName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := TruncateID("sha256:0123456789abcdef"); got != "0123456789abc" {
		t.Errorf("TruncateID = %q", got)
	}
}
