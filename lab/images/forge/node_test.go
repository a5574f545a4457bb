package forge

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/module"

	"github.com/nodelab/nodelab/lab/images"
)

// moduleSource is a module's folder in the local module cache, or "" when
// it is not there; tests never download.
func moduleSource(t *testing.T, path, version string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOMODCACHE: %v", err)
	}
	esc, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), esc+"@"+version)
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// kindModuleSource is kind's source; go.mod requires it, so it must be in
// the module cache (go mod download fetches it).
func kindModuleSource(t *testing.T) string {
	t.Helper()
	dir := moduleSource(t, "sigs.k8s.io/kind", images.KindVersion)
	if dir == "" {
		t.Fatalf("sigs.k8s.io/kind@%s is not in the module cache: run go mod download", images.KindVersion)
	}
	return dir
}

// goStringConst evaluates a string constant of a Go file: literals and
// other constants of the same file joined with +.
func goStringConst(t *testing.T, file, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	exprs := map[string]ast.Expr{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					exprs[n.Name] = vs.Values[i]
				}
			}
		}
	}
	var eval func(e ast.Expr) string
	eval = func(e ast.Expr) string {
		switch e := e.(type) {
		case *ast.BasicLit:
			s, err := strconv.Unquote(e.Value)
			if err != nil {
				t.Fatal(err)
			}
			return s
		case *ast.Ident:
			v, ok := exprs[e.Name]
			if !ok {
				t.Fatalf("%s: constant %s not found", file, e.Name)
			}
			return eval(v)
		case *ast.BinaryExpr:
			return eval(e.X) + eval(e.Y)
		case *ast.ParenExpr:
			return eval(e.X)
		}
		t.Fatalf("%s: cannot evaluate %T", file, e)
		return ""
	}
	e, ok := exprs[name]
	if !ok {
		t.Fatalf("%s has no constant %s", file, name)
	}
	return eval(e)
}

func TestStorageManifestIsKinds(t *testing.T) {
	kind := goStringConst(t, filepath.Join(kindModuleSource(t), "pkg/build/nodeimage/const_storage.go"), "defaultStorageManifest")
	if kind != defaultStorageManifest {
		t.Errorf("files/default-storage.yaml differs from kind %s's defaultStorageManifest: copy it again", images.KindVersion)
	}
	for _, ref := range []string{images.LocalPathProvisionerImage, images.LocalPathHelperImage} {
		if !strings.Contains(defaultStorageManifest, "image: "+ref) {
			t.Errorf("storage manifest does not use %s", ref)
		}
	}
}

func TestCNIManifestIsAdaptedFlannel(t *testing.T) {
	const marker = "# would you kindly template this file\n"
	if !strings.HasPrefix(defaultCNIManifest, marker) {
		t.Error("kind templates the default CNI manifest only with its marker on the first line")
	}
	for _, want := range []string{`"Network": "{{ .PodSubnet }}"`, `"cniVersion": "0.4.0"`,
		"image: " + images.FlannelImage, "image: " + images.FlannelCNIPluginImage, "/opt/bin/install-conf", "/opt/bin/flanneld"} {
		if !strings.Contains(defaultCNIManifest, want) {
			t.Errorf("default-cni.yaml lacks %s", want)
		}
	}
	if strings.Contains(defaultCNIManifest, `"cniVersion": "1.0.0"`) || strings.Contains(defaultCNIManifest, "10.244.0.0/16") {
		t.Error("default-cni.yaml still has flannel's cniVersion or pod network")
	}

	// kind renders it with text/template; the result must be YAML that
	// holds the subnet.
	tmpl, err := template.New("cni").Option("missingkey=error").Parse(defaultCNIManifest)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, struct{ PodSubnet string }{"10.99.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	rendered := buf.String()
	dec := yaml.NewDecoder(&buf)
	docs := 0
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered manifest, document %d: %v", docs+1, err)
		}
		if doc != nil {
			docs++
		}
	}
	if docs != 6 || !strings.Contains(rendered, `"Network": "10.99.0.0/16"`) {
		t.Errorf("rendered manifest: %d documents (want 6), subnet substituted: %v", docs, strings.Contains(rendered, "10.99.0.0/16"))
	}

	// When flannel's source is at hand, the file is exactly upstream's with
	// the three edits.
	dir := moduleSource(t, "github.com/flannel-io/flannel", images.FlannelVersion)
	if dir == "" {
		t.Logf("flannel %s source not in the module cache; skipped the comparison with upstream", images.FlannelVersion)
		return
	}
	up, err := os.ReadFile(filepath.Join(dir, "Documentation/kube-flannel.yml"))
	if err != nil {
		t.Fatal(err)
	}
	adapted := marker + strings.NewReplacer(
		`"Network": "10.244.0.0/16"`, `"Network": "{{ .PodSubnet }}"`,
		`"cniVersion": "1.0.0"`, `"cniVersion": "0.4.0"`,
	).Replace(string(up))
	if adapted != defaultCNIManifest {
		t.Error("files/default-cni.yaml is not flannel's kube-flannel.yml with exactly the three edits")
	}
}

func TestEveryComponentHasARecipe(t *testing.T) {
	known := map[string]bool{BinKubeAPIServer: true, BinKubeControllerManager: true, BinKubeScheduler: true,
		BinKubeProxy: true, BinEtcd: true, BinCoreDNS: true, BinPause: true, BinFlanneld: true,
		BinFlannelCNIPlugin: true, BinLocalPathProvisioner: true, BinFlannelInstallConf: true, BinAgnhost: true}
	seen := map[string]bool{}
	for _, img := range append(images.NodeComponents(), images.Workloads()...) {
		spec, ok := componentSpecs[img.Name]
		if !ok {
			t.Errorf("no recipe for %s", img.Name)
			continue
		}
		seen[img.Name] = true
		for _, f := range spec.files {
			if !known[f.bin] {
				t.Errorf("%s: unknown binary %q", img.Name, f.bin)
			}
		}
		for _, l := range spec.stack {
			if l != layerSkeleton && l != layerBusybox && l != layerNetbase {
				t.Errorf("%s: unknown layer %q", img.Name, l)
			}
		}
		if len(spec.entrypoint) == 0 && len(spec.cmd) == 0 {
			t.Errorf("%s: nothing to run", img.Name)
		}
	}
	for name := range componentSpecs {
		if !seen[name] {
			t.Errorf("recipe %s is for no component image", name)
		}
	}
	for _, name := range []string{"kube-proxy", "flannel"} {
		if s := componentSpecs[name]; len(s.stack) != 2 || s.stack[1] != layerNetbase {
			t.Errorf("%s must run on netbase (iptables, conntrack ...): %v", name, s.stack)
		}
	}
}
