package networkpolicies

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodelab/nodelab/lab/images"
)

func TestRenderUsesTheImageWithoutNRI(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the module from the module cache or proxy")
	}
	objs, err := Render(context.Background(), images.NetworkPoliciesForgeImage)
	if err != nil {
		t.Fatal(err)
	}
	var ds *unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() == "DaemonSet" {
			ds = u
		}
	}
	if ds == nil || ds.GetName() != DaemonSet {
		t.Fatalf("no DaemonSet %s in %d objects", DaemonSet, len(objs))
	}
	containers, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != images.NetworkPoliciesForgeImage {
		t.Errorf("image %v", c["image"])
	}
	args := c["args"].([]any)
	if args[len(args)-1] != "--disable-nri" {
		t.Errorf("args %v: want --disable-nri last", args)
	}
	for _, m := range asSlice(c["volumeMounts"]) {
		if m.(map[string]any)["name"] == nriVolume {
			t.Error("the NRI socket is still mounted")
		}
	}
	volumes, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", "volumes")
	for _, v := range volumes {
		if v.(map[string]any)["name"] == nriVolume {
			t.Error("the NRI volume is still there")
		}
	}
}
