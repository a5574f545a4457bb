package forge

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodelab/nodelab/lab/images"
)

// kindContainerdConfig is the part of kind v0.33's
// images/base/files/etc/containerd/config.toml the forge edits.
const kindContainerdConfig = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  # use fixed sandbox image
  sandbox_image = "registry.k8s.io/pause:3.10"
  tolerate_missing_hugepages_controller = true
  # restrict_oom_score_adj needs to be true when running inside UserNS (rootless)
  restrict_oom_score_adj = false
`

func TestEditContainerdConfig(t *testing.T) {
	got, err := editContainerdConfig(kindContainerdConfig, images.PauseImage)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`  sandbox_image = "registry.k8s.io/pause:` + images.PauseVersion + `"`,
		"  restrict_oom_score_adj = true\n",
		"tolerate_missing_hugepages_controller = true",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("edited config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "restrict_oom_score_adj = false") || strings.Contains(got, `pause:3.10"`) {
		t.Errorf("old values left:\n%s", got)
	}
	if _, err := editContainerdConfig("version = 2\n", images.PauseImage); err == nil ||
		!strings.Contains(err.Error(), "sandbox_image") || !strings.Contains(err.Error(), "restrict_oom_score_adj") {
		t.Errorf("config without the settings: err = %v, want both named", err)
	}
}

// TestEditKindContainerdConfig runs the edit on kind's real file, so a kind
// upgrade that moves the settings fails here rather than in a cluster.
func TestEditKindContainerdConfig(t *testing.T) {
	dir := kindModuleSource(t)
	b, err := os.ReadFile(filepath.Join(dir, "images/base/files/etc/containerd/config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := editContainerdConfig(string(b), images.PauseImage)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, "restrict_oom_score_adj = true") != 1 {
		t.Errorf("restrict_oom_score_adj not set exactly once:\n%s", got)
	}
}

func TestEditCRIBaseSpec(t *testing.T) {
	in := `{"ociVersion":"1.1.0","process":{"args":["sh"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]},
	        "hooks":{"createContainer":[{"path":"/other"}]}}`
	out, err := editCRIBaseSpec([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Process map[string]any `json:"process"`
		Hooks   struct {
			CreateContainer []struct{ Path string } `json:"createContainer"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(out, &spec); err != nil {
		t.Fatal(err)
	}
	if _, ok := spec.Process["rlimits"]; ok {
		t.Error("rlimits kept")
	}
	hooks := spec.Hooks.CreateContainer
	if len(hooks) != 2 || hooks[0].Path != "/other" || hooks[1].Path != "/kind/bin/mount-product-files.sh" {
		t.Errorf("createContainer hooks = %+v", hooks)
	}
	if _, err := editCRIBaseSpec([]byte("not json")); err == nil {
		t.Error("bad spec accepted")
	}
}

func TestWantedBy(t *testing.T) {
	unit := "[Unit]\nWantedBy=wrong.target\n[Service]\nExecStart=/x\n\n[Install]\nWantedBy=multi-user.target  other.target\n"
	got := wantedBy(unit)
	if strings.Join(got, ",") != "multi-user.target,other.target" {
		t.Errorf("wantedBy = %v", got)
	}
}

// TestKindUnitsCanBeEnabled checks every unit the base image enables has
// an [Install] section in kind's files.
func TestKindUnitsCanBeEnabled(t *testing.T) {
	dir := kindModuleSource(t)
	for _, u := range baseUnits {
		b, err := os.ReadFile(filepath.Join(dir, "images/base/files/etc/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		if len(wantedBy(string(b))) == 0 {
			t.Errorf("%s has no WantedBy=", u)
		}
	}
}
