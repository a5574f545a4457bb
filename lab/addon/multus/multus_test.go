package multus

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodelab/nodelab/lab/images"
)

func TestRenderChangesOnlyImagesPullPolicyAndPriority(t *testing.T) {
	for _, src := range []images.Source{images.SourceForge, images.SourceUpstream} {
		objs, err := Render(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		if objs[0].GetKind() != "CustomResourceDefinition" || objs[0].GetName() != "network-attachment-definitions.k8s.cni.cncf.io" {
			t.Fatalf("%s: first object is %s %s, want the NAD CRD", src, objs[0].GetKind(), objs[0].GetName())
		}
		kinds := map[string]int{}
		var ds *unstructured.Unstructured
		for _, o := range objs {
			kinds[o.GetKind()]++
			if o.GetKind() == "DaemonSet" {
				ds = o
			}
		}
		for k, n := range map[string]int{"CustomResourceDefinition": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "ServiceAccount": 1, "ConfigMap": 1, "DaemonSet": 1} {
			if kinds[k] != n {
				t.Errorf("%s: %d %s objects, want %d (all: %v)", src, kinds[k], k, n, kinds)
			}
		}
		if ds == nil || ds.GetName() != DaemonSet || ds.GetNamespace() != Namespace {
			t.Fatalf("%s: no DaemonSet %s/%s", src, Namespace, DaemonSet)
		}
		want := images.Multus().Ref(src)
		for _, field := range []string{"containers", "initContainers"} {
			cs, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", field)
			if len(cs) == 0 {
				t.Errorf("%s: no %s", src, field)
			}
			for _, c := range cs {
				m := c.(map[string]any)
				if m["image"] != want || m["imagePullPolicy"] != "IfNotPresent" {
					t.Errorf("%s: %s %v has image %v pull %v, want %s IfNotPresent", src, field, m["name"], m["image"], m["imagePullPolicy"], want)
				}
			}
		}
		cmd, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "containers")
		if got := cmd[0].(map[string]any)["command"]; len(got.([]any)) != 1 || got.([]any)[0] != "/thin_entrypoint" {
			t.Errorf("%s: container command %v, want upstream's thin entrypoint", src, got)
		}
		if pc, _, _ := unstructured.NestedString(ds.Object, "spec", "template", "spec", "priorityClassName"); pc != "system-node-critical" {
			t.Errorf("%s: priorityClassName %q", src, pc)
		}
	}
}

// TestBuildPlugins builds the reference plugins from the module proxy, as
// an online lab whose nodes lack them does (a few seconds when cached).
func TestBuildPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go modules from the module proxy; runs without -short")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, err := BuildPlugins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Plugins {
		fi, err := os.Stat(filepath.Join(dir, p[0]))
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("plugin %s: %v %v", p[0], fi, err)
		}
	}
}
