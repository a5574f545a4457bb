package images

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
)

// moduleDir returns a module's folder in the module cache, downloading it
// through the Go module proxy if needed (the forge needs it anyway).
func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", mod).Output()
	if err != nil {
		t.Skipf("cannot download %s from the Go module proxy to compare against it: %v", mod, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s: %s %v", mod, info.Error, err)
	}
	return info.Dir
}

func constant(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*=\s*"([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: constant %s not found", file, name)
	}
	return string(m[1])
}

func TestUpstreamNodeImageIsKindDefault(t *testing.T) {
	if UpstreamNodeImage != kinddefaults.Image {
		t.Errorf("UpstreamNodeImage = %s, kind %s's default is %s", UpstreamNodeImage, KindVersion, kinddefaults.Image)
	}
}

func TestVersionsAgreeWithKind(t *testing.T) {
	dir := moduleDir(t, "sigs.k8s.io/kind@"+KindVersion)
	storage := filepath.Join(dir, "pkg/build/nodeimage/const_storage.go")
	if got := constant(t, storage, "const storageProvisionerImage"); got != LocalPathProvisionerImage {
		t.Errorf("kind's storage provisioner image is %s, we pin %s", got, LocalPathProvisionerImage)
	}
	if got := constant(t, storage, "const storageHelperImage"); got != LocalPathHelperImage {
		t.Errorf("kind's storage helper image is %s, we pin %s", got, LocalPathHelperImage)
	}
}

func TestVersionsAgreeWithKubeadm(t *testing.T) {
	dir := moduleDir(t, "k8s.io/kubernetes@"+KubernetesVersion)
	consts := filepath.Join(dir, "cmd/kubeadm/app/constants/constants.go")
	for name, want := range map[string]string{
		"DefaultEtcdVersion": EtcdImageTag,
		"CoreDNSVersion":     CoreDNSVersion,
		"PauseVersion":       PauseVersion,
	} {
		if got := constant(t, consts, name); got != want {
			t.Errorf("kubeadm %s %s = %q, we pin %q", KubernetesVersion, name, got, want)
		}
	}
	if !strings.HasPrefix(EtcdImageTag, strings.TrimPrefix(EtcdVersion, "v")+"-") {
		t.Errorf("etcd image tag %s does not match etcd %s", EtcdImageTag, EtcdVersion)
	}
	v, err := os.ReadFile(filepath.Join(dir, "test/images/agnhost/VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(v)); got != AgnhostVersion {
		t.Errorf("agnhost in k8s %s is %s, we pin %s", KubernetesVersion, got, AgnhostVersion)
	}
	if want := "v0." + strings.TrimPrefix(KubernetesVersion, "v1."); StagingVersion != want {
		t.Errorf("StagingVersion %s, want %s for Kubernetes %s", StagingVersion, want, KubernetesVersion)
	}
}

func TestForSourceListsNodeComponentsAndWorkloads(t *testing.T) {
	all := ForSource(SourceAuto)
	names := map[string]bool{}
	for _, im := range all {
		if im.Upstream == "" || im.Forge == "" {
			t.Errorf("%s: missing a reference: %+v", im.Name, im)
		}
		names[im.Name] = true
	}
	for _, want := range []string{"node", "kube-apiserver", "etcd", "coredns", "pause", "flannel", "local-path-provisioner", "agnhost"} {
		if !names[want] {
			t.Errorf("image list lacks %s", want)
		}
	}
}
