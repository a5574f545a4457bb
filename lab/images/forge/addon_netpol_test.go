package forge

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodelab/nodelab/lab/gomod"
	"github.com/nodelab/nodelab/lab/images"
)

// The patches apply to the pinned module exactly once, leave no nft queue
// expression, parse, and applying them again changes nothing.
func TestNetpolPatchesApplyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the module from the module cache or proxy")
	}
	if _, ok := addonRecipeFor(images.NetworkPoliciesImageName); !ok {
		t.Fatalf("no forge recipe registered for %s", images.NetworkPoliciesImageName)
	}
	dir, err := gomod.Dir(t.Context(), images.NetworkPoliciesModule, images.NetworkPoliciesVersion)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	files := []string{"pkg/networkpolicy/controller.go", "pkg/networkpolicy/dnsagent.go"}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := applyPatches(src, netpolPatches); err != nil {
		t.Fatal(err)
	}
	once := map[string]string{}
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(src, f))
		once[f] = string(b)
		if strings.Contains(string(b), "&expr.Queue{") {
			t.Errorf("%s still builds an nft queue expression", f)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), f, b, 0); err != nil {
			t.Errorf("%s does not parse after the patches: %v", f, err)
		}
	}
	if err := applyPatches(src, netpolPatches); err != nil {
		t.Fatalf("second application: %v", err)
	}
	for _, f := range files {
		if b, _ := os.ReadFile(filepath.Join(src, f)); string(b) != once[f] {
			t.Errorf("%s changed when the patches were applied again", f)
		}
	}
}
