package chaosmesh

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/lab/images"
)

func TestImageValues(t *testing.T) {
	got := imageValues("ghcr.io/chaos-mesh/chaos-daemon:v2.8.4")
	if got["registry"] != "ghcr.io" || got["repository"] != "chaos-mesh/chaos-daemon" || got["tag"] != "v2.8.4" {
		t.Errorf("imageValues = %v", got)
	}
	got = imageValues(images.ChaosMeshDaemonForgeImage)
	if got["registry"] != "nodelab.local" || got["repository"] != "chaos-daemon" {
		t.Errorf("imageValues(forge) = %v", got)
	}
}

// Render needs the chaos-mesh module (Go module proxy): not in -short.
func TestRenderUsesOurValues(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the chaos-mesh module for its chart (run without -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	objs, err := Render(ctx, images.SourceForge)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var all strings.Builder
	for _, o := range objs {
		kinds[o.GetKind()]++
		b, _ := yaml.Marshal(o.Object)
		all.Write(b)
	}
	text := all.String()
	for _, want := range []string{images.ChaosMeshDaemonForgeImage, images.ChaosMeshControllerForgeImage, "--runtime", "containerd", "stresschaos",
		"priorityClassName: system-node-critical", "priorityClassName: system-cluster-critical"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered chart lacks %q", want)
		}
	}
	if strings.Contains(text, "chaos-dashboard") && kinds["Deployment"] > 1 {
		t.Errorf("dashboard rendered: %d Deployments", kinds["Deployment"])
	}
	if kinds["CustomResourceDefinition"] < 10 || kinds["DaemonSet"] != 1 || kinds["Deployment"] != 1 {
		t.Errorf("kinds = %v, want the CRDs, one DaemonSet, one Deployment", kinds)
	}
}

func TestInstallKeyNamesWhatIsInstalled(t *testing.T) {
	a, err := installKey(images.SourceForge, "abc,def")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := installKey(images.SourceForge, "abc,def")
	c, _ := installKey(images.SourceForge, "abc,123")
	d, _ := installKey(images.SourceUpstream, "")
	if a != b || a == c || a == d || c == d {
		t.Fatalf("keys: same inputs %s/%s, other image IDs %s, upstream %s", a, b, c, d)
	}
}
