package app

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusCase is one bad input: the command line (and the files or
// listeners it needs), the exit code and what the message must say.
type corpusCase struct {
	name string
	// args may use {dir} for the case's scratch folder, which setup fills.
	args  []string
	env   map[string]string
	setup func(t *testing.T, c *corpusEnv) []string // extra args, may be nil
	code  int
	want  []string
}

// corpusEnv is the hermetic world a case runs in: HOME, XDG_* and
// KUBECONFIG point into root, and PATH holds only a fake docker.
type corpusEnv struct {
	root, scratch, state, dockerLog string
}

// fakeDocker answers the read-only calls nodelab makes before it would
// create anything (version, info, ps, inspect, network ls, images) as an
// empty engine would, logs every call, and fails anything else.
const fakeDocker = `#!/bin/sh
echo "$*" >> "$NODELAB_FAKE_DOCKER_LOG"
case "$1 $2" in
version*) echo 27.5.1; exit 0;;
info*) echo 2; exit 0;;
ps*|images*|"network ls") exit 0;;
inspect*|"image inspect"|"container inspect"|"network inspect") echo "Error: No such object" >&2; exit 1;;
esac
echo "fake docker: refusing a call that changes something: $*" >&2
exit 97
`

// readOnlyDocker are the docker calls a refused input may still make.
var readOnlyDocker = []string{"version", "info", "ps", "inspect", "images", "network ls", "network inspect", "image inspect", "container inspect"}

// TestBadInputCorpus runs nodelab on bad input and checks for each case
// the exit code (2: bad input, 1: a runtime failure), that the message
// says what is wrong, and that nothing was created: no docker call that
// changes anything, and no new file under HOME, the state folder, the
// cache or KUBECONFIG. Hermetic: the only docker is a fake.
func TestBadInputCorpus(t *testing.T) {
	cases := append(profileCorpus(t), cliCorpus()...)
	if len(cases) < 80 {
		t.Fatalf("the corpus has %d cases, want at least 80", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runCorpusCase(t, tc) })
	}
}

func runCorpusCase(t *testing.T, tc corpusCase) {
	root := t.TempDir()
	c := &corpusEnv{root: root, scratch: filepath.Join(root, "scratch"), state: filepath.Join(root, "state"), dockerLog: filepath.Join(t.TempDir(), "docker.log")}
	bin := filepath.Join(root, "bin")
	for _, d := range []string{bin, c.scratch, filepath.Join(root, "home"), filepath.Join(root, "cache"), filepath.Join(root, "config")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(fakeDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("NODELAB_FAKE_DOCKER_LOG", c.dockerLog)
	t.Setenv("HOME", filepath.Join(root, "home"))
	t.Setenv("XDG_STATE_HOME", c.state)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "cache"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(root, "config"))
	t.Setenv("KUBECONFIG", filepath.Join(root, "home", "kubeconfig"))
	t.Setenv("NODELAB_TIMEOUT_SCALE", "")
	for k, v := range tc.env {
		t.Setenv(k, v)
	}
	args := make([]string, 0, len(tc.args))
	for _, a := range tc.args {
		args = append(args, strings.ReplaceAll(a, "{dir}", c.scratch))
	}
	if tc.setup != nil {
		args = append(args, tc.setup(t, c)...)
	}
	before := snapshot(t, root)

	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	msg := errb.String()
	if code != tc.code {
		t.Errorf("nodelab %s: exit %d, want %d\nstderr: %s", strings.Join(args, " "), code, tc.code, msg)
	}
	if !strings.HasPrefix(msg, "nodelab: ") && !strings.Contains(msg, "\nnodelab: ") {
		t.Errorf("stderr has no error line starting %q:\n%s", "nodelab: ", msg)
	}
	for _, w := range tc.want {
		if !strings.Contains(msg, strings.ReplaceAll(w, "{dir}", c.scratch)) {
			t.Errorf("stderr does not say %q:\n%s", w, msg)
		}
	}

	// Nothing was created.
	if calls, err := os.ReadFile(c.dockerLog); err == nil {
		for _, call := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
			if !readOnly(call) {
				t.Errorf("docker %s was attempted; bad input must be refused before anything is created", call)
			}
		}
	}
	after := snapshot(t, root)
	for p, sum := range after {
		if old, ok := before[p]; !ok || old != sum {
			t.Errorf("%s was created or changed", p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s was removed", p)
		}
	}
}

func readOnly(call string) bool {
	for _, r := range readOnlyDocker {
		if call == r || strings.HasPrefix(call, r+" ") {
			return true
		}
	}
	return false
}

// snapshot maps every path under root to its size and mode.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[rel] = fmt.Sprintf("%v %d %v", info.Mode(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// profileCorpus is testdata/corpus/*.yaml, each given to `nodelab up
// --profile` and refused with exit 2 and its "# want:" lines, plus bad
// profile files that are better made than stored.
func profileCorpus(t *testing.T) []corpusCase {
	files, err := filepath.Glob("testdata/corpus/*.yaml")
	if err != nil || len(files) < 50 {
		t.Fatalf("testdata/corpus: %d files (%v), want at least 50", len(files), err)
	}
	var cases []corpusCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var wants []string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
				wants = append(wants, w)
			}
		}
		if len(wants) == 0 {
			t.Fatalf("%s has no '# want:' line", f)
		}
		cases = append(cases, corpusCase{name: "profile/" + strings.TrimSuffix(filepath.Base(f), ".yaml"),
			args: []string{"up", "--profile", f}, code: 2, want: wants})
	}
	file := func(name string, data []byte) func(*testing.T, *corpusEnv) []string {
		return func(t *testing.T, c *corpusEnv) []string {
			p := filepath.Join(c.scratch, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"--profile", p}
		}
	}
	big := func(t *testing.T, c *corpusEnv) []string {
		p := filepath.Join(c.scratch, "50mb.yaml")
		data := bytes.Repeat([]byte("# padding padding padding padding padding padding\n"), 50<<20/50)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return []string{"--profile", p}
	}
	return append(cases,
		corpusCase{name: "profile/empty-file", args: []string{"up"}, setup: file("empty.yaml", nil), code: 2,
			want: []string{"empty profile: write at least apiVersion: nodelab.dev/v1alpha1 and kind: Profile"}},
		corpusCase{name: "profile/50MB", args: []string{"up"}, setup: big, code: 2,
			want: []string{"profile is 50.0 MiB, more than the 1024 KiB a profile may have", "check the path"}},
		corpusCase{name: "profile/binary-garbage", args: []string{"up"}, setup: file("garbage.yaml", []byte("\x7fELF\x02\x01\x01\x00\x00\xff\xfe")), code: 2,
			want: []string{"profile is not text (binary data at byte 7)", "check the path"}},
		corpusCase{name: "profile/invalid-utf8", args: []string{"up"}, setup: file("latin1.yaml", []byte("apiVersion: nodelab.dev/v1alpha1\nkind: Profile\nname: caf\xe9\n")), code: 2,
			want: []string{"profile is not text (binary data at byte 56)"}},
		corpusCase{name: "profile/a-directory", args: []string{"up", "--profile", "{dir}"}, code: 2,
			want: []string{"load profile", "is a directory"}},
		corpusCase{name: "profile/missing-file", args: []string{"up", "--profile", "{dir}/nope.yaml"}, code: 2,
			want: []string{"{dir}/nope.yaml", "no such file or directory"}},
		corpusCase{name: "profile/unknown-builtin", args: []string{"up", "--profile", "multis"}, code: 2,
			want: []string{`"multis" is neither a file nor a built-in profile (built-in: multus)`}},
		corpusCase{name: "profile/run-refuses-before-the-forge", args: []string{"run", "lab", "--profile", "testdata/corpus/feature-gate-yes.yaml"}, code: 2,
			want: []string{`got string "yes"`}},
		corpusCase{name: "profile/down-with-bad-profile", args: []string{"down", "--profile", "testdata/corpus/name-uppercase.yaml"}, code: 2,
			want: []string{`name: "MyLab" is not a valid kind cluster name`}},
		corpusCase{name: "profile/nlb-with-bad-profile", args: []string{"nlb", "-n", "x", "--service", "y", "--listen", "127.0.0.1:0", "--profile", "testdata/corpus/workers-null.yaml"}, code: 2,
			want: []string{"workers: null is not a whole number"}},
	)
}

// cliCorpus covers flags, environment variables and state.
func cliCorpus() []corpusCase {
	nlb := func(extra ...string) []string {
		return append([]string{"nlb", "-n", "ingress", "--service", "traefik"}, extra...)
	}
	scale := func(v string) map[string]string { return map[string]string{"NODELAB_TIMEOUT_SCALE": v} }
	return []corpusCase{
		{name: "flag/unknown", args: []string{"up", "--bogus"}, code: 2, want: []string{"unknown flag: --bogus", "Run 'nodelab --help' for usage."}},
		{name: "flag/unknown-global", args: []string{"--nope", "status"}, code: 2, want: []string{"unknown flag: --nope"}},
		{name: "flag/unknown-shorthand", args: []string{"up", "-z"}, code: 2, want: []string{"unknown shorthand flag: 'z'"}},
		{name: "flag/extra-argument", args: []string{"up", "extra"}, code: 2, want: []string{`nodelab up takes no arguments, got ["extra"]`}},
		{name: "flag/unknown-verb", args: []string{"upp"}, code: 2, want: []string{`unknown command "upp" for "nodelab"`}},
		{name: "flag/bad-bool", args: []string{"up", "--retain=maybe"}, code: 2, want: []string{`invalid argument "maybe" for "--retain"`}},
		{name: "flag/bad-name", args: []string{"up", "--name", "My_Lab"}, code: 2, want: []string{`name: "My_Lab" is not a valid kind cluster name`}},
		{name: "flag/name-too-long", args: []string{"up", "--name", strings.Repeat("n", 41)}, code: 2, want: []string{"is 41 characters long; use at most 40"}},
		{name: "flag/profile-needs-value", args: []string{"up", "--profile"}, code: 2, want: []string{"flag needs an argument: --profile"}},
		{name: "flag/timeout-scale-negative", args: []string{"up", "--timeout-scale=-1"}, code: 2, want: []string{"--timeout-scale=-1: want a number above 0 and at most 100"}},
		{name: "flag/timeout-scale-abc", args: []string{"up", "--timeout-scale=abc"}, code: 2, want: []string{`invalid argument "abc" for "--timeout-scale"`}},
		{name: "flag/timeout-scale-zero", args: []string{"up", "--timeout-scale=0"}, code: 2, want: []string{"--timeout-scale=0: want a number above 0"}},
		{name: "flag/timeout-scale-nan", args: []string{"up", "--timeout-scale=NaN"}, code: 2, want: []string{"--timeout-scale=NaN: want a number above 0"}},
		{name: "flag/timeout-scale-inf", args: []string{"up", "--timeout-scale=+Inf"}, code: 2, want: []string{"--timeout-scale=+Inf: want a number above 0"}},
		{name: "flag/timeout-scale-huge", args: []string{"up", "--timeout-scale=1e300"}, code: 2, want: []string{"--timeout-scale=1e+300: want a number above 0 and at most 100"}},
		{name: "env/timeout-scale-abc", args: []string{"up"}, env: scale("abc"), code: 2, want: []string{`NODELAB_TIMEOUT_SCALE="abc": want a number above 0 and at most 100`}},
		{name: "env/timeout-scale-negative", args: []string{"up"}, env: scale("-1"), code: 2, want: []string{`NODELAB_TIMEOUT_SCALE="-1": want a number above 0`}},
		{name: "env/timeout-scale-zero", args: []string{"up"}, env: scale("0"), code: 2, want: []string{`NODELAB_TIMEOUT_SCALE="0": want a number above 0`}},
		{name: "env/timeout-scale-nan", args: []string{"status"}, env: scale("NaN"), code: 2, want: []string{`NODELAB_TIMEOUT_SCALE="NaN"`}},
		{name: "env/timeout-scale-run", args: []string{"run", "lab"}, env: scale("1,5"), code: 2, want: []string{`NODELAB_TIMEOUT_SCALE="1,5"`}},
		{name: "run/unknown-scenario", args: []string{"run", "no-such-scenario"}, code: 2, want: []string{`unknown scenario "no-such-scenario"`, "known scenarios are"}},
		{name: "run/unknown-scenario-after-a-known-one", args: []string{"run", "lab", "memory-presure"}, code: 2, want: []string{`unknown scenario "memory-presure"`}},
		{name: "run/no-scenario", args: []string{"run"}, code: 2, want: []string{"name at least one scenario (see `nodelab scenarios`)"}},
		{name: "run/kubeconfig-missing", args: []string{"run", "lab", "--kubeconfig", "{dir}/nope"}, code: 2, want: []string{"--kubeconfig {dir}/nope", "no such file or directory", "give the kubeconfig of a running cluster"}},
		{name: "run/kubeconfig-garbage", args: []string{"run", "lab"}, setup: kubeconfigFile("not: [a kubeconfig"), code: 2, want: []string{"--kubeconfig", "give the kubeconfig of a running cluster"}},
		{name: "run/kubeconfig-no-context", args: []string{"run", "lab"}, setup: kubeconfigFile("apiVersion: v1\nkind: Config\n"), code: 2, want: []string{"--kubeconfig", "give the kubeconfig of a running cluster"}},
		{name: "run/kubeconfig-points-nowhere", args: []string{"run", "lab"}, setup: kubeconfigNowhere, code: 1, want: []string{"attach: API server of", "does not answer within", "is the cluster up and the kubeconfig current?"}},
		{name: "nlb/no-service", args: []string{"nlb"}, code: 2, want: []string{"--namespace and --service are required"}},
		{name: "nlb/target-type", args: nlb("--target-type", "alb"), code: 2, want: []string{`--target-type "alb": want instance or ip`}},
		{name: "nlb/time-scale", args: nlb("--time-scale", "0.5"), code: 2, want: []string{"--time-scale 0.5: want 1 (AWS's timing) or more"}},
		{name: "nlb/readiness-gate-needs-ip", args: nlb("--readiness-gate", "g"), code: 2, want: []string{"--readiness-gate needs --target-type ip"}},
		{name: "nlb/listen-host-name", args: nlb("--listen", "localhost:8080"), code: 2, want: []string{`--listen "localhost:8080": want a loopback IP and port such as 127.0.0.1:8080`}},
		{name: "nlb/listen-not-loopback", args: nlb("--listen", "0.0.0.0:8080"), code: 2, want: []string{"--listen 0.0.0.0:8080: the NLB listens on loopback only; use 127.0.0.1:8080"}},
		{name: "nlb/listen-port-in-use", args: nlb(), setup: portInUse, code: 2, want: []string{"is in use; pick another port"}},
		{name: "nlb/for-not-a-duration", args: nlb("--for", "ten"), code: 2, want: []string{`invalid argument "ten" for "--for"`}},
		{name: "state/status-corrupt-record", args: []string{"status"}, setup: record("lab1", "{not json"), code: 1, want: []string{"unreadable lab record", "lab1/lab.json", "kind delete cluster --name lab1", "then remove"}},
		{name: "state/status-record-is-a-folder", args: []string{"status"}, setup: recordFolder("lab2"), code: 1, want: []string{"unreadable lab record", "is a directory", "then remove"}},
		{name: "state/status-record-names-another-lab", args: []string{"status"}, setup: record("lab3", `{"name": "other"}`), code: 1, want: []string{`it names lab "other"`}},
		{name: "state/status-state-dir-is-a-file", args: []string{"status", "--state-dir", "{dir}/file"}, setup: stateFile, code: 1, want: []string{"read lab records", "not a directory", "must be a folder nodelab can read and write"}},
		{name: "state/down-corrupt-record", args: []string{"down", "--name", "lab1"}, setup: record("lab1", "{not json"), code: 1, want: []string{"unreadable lab record", "kind delete cluster --name lab1"}},
		{name: "state/down-empty-record", args: []string{"down", "--name", "lab1"}, setup: record("lab1", ""), code: 1, want: []string{"unreadable lab record", "unexpected end of JSON input"}},
		{name: "state/down-all-corrupt-record", args: []string{"down", "--all"}, setup: record("lab1", "[]"), code: 1, want: []string{"unreadable lab record", "lab1"}},
		{name: "state/down-all-state-dir-is-a-file", args: []string{"down", "--all", "--state-dir", "{dir}/file"}, setup: stateFile, code: 1, want: []string{"must be a folder nodelab can read and write"}},
		{name: "state/kubeconfig-no-lab", args: []string{"kubeconfig", "--name", "ghost"}, code: 1, want: []string{"ghost"}},
		{name: "doctor/extra-argument", args: []string{"doctor", "now"}, code: 2, want: []string{"takes no arguments"}},
	}
}

func kubeconfigFile(content string) func(*testing.T, *corpusEnv) []string {
	return func(t *testing.T, c *corpusEnv) []string {
		p := filepath.Join(c.scratch, "kubeconfig")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"--kubeconfig", p}
	}
}

// kubeconfigNowhere names an API server on a loopback port nothing listens
// on: the connection is refused at once, so Attach fails without waiting.
func kubeconfigNowhere(t *testing.T, c *corpusEnv) []string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return kubeconfigFile(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://%s", insecure-skip-tls-verify: true}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: nobody}
users:
- name: nobody
  user: {token: x}
current-context: nowhere
`, addr))(t, c)
}

// portInUse holds a listener for the length of the test and passes its
// address to --listen.
func portInUse(t *testing.T, _ *corpusEnv) []string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return []string{"--listen", ln.Addr().String()}
}

func record(name, content string) func(*testing.T, *corpusEnv) []string {
	return func(t *testing.T, c *corpusEnv) []string {
		dir := filepath.Join(c.state, "nodelab", "labs", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "lab.json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return nil
	}
}

func recordFolder(name string) func(*testing.T, *corpusEnv) []string {
	return func(t *testing.T, c *corpusEnv) []string {
		if err := os.MkdirAll(filepath.Join(c.state, "nodelab", "labs", name, "lab.json"), 0o755); err != nil {
			t.Fatal(err)
		}
		return nil
	}
}

func stateFile(t *testing.T, c *corpusEnv) []string {
	if err := os.WriteFile(filepath.Join(c.scratch, "file"), []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	return nil
}
