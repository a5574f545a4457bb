package multinetworkpolicy

import (
	"context"
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images"
)

func TestRender(t *testing.T) {
	objs, err := Render(context.Background(), "example.test/enforcer:v1")
	if err != nil {
		t.Fatal(err)
	}
	if objs[0].GetName() != "multi-networkpolicies.k8s.cni.cncf.io" {
		t.Fatalf("first object %s, want the MultiNetworkPolicy CRD", objs[0].GetName())
	}
	vs, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "versions")
	served := map[string]bool{}
	for _, v := range vs {
		m := v.(map[string]any)
		served[m["name"].(string)] = m["served"].(bool)
	}
	if !served["v1beta1"] {
		t.Errorf("v1beta1 not served (fixtures use it): %v", served)
	}
	var found bool
	for _, o := range objs {
		if o.GetKind() != "DaemonSet" {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		c := cs[0].(map[string]any)
		found = c["image"] == "example.test/enforcer:v1"
		args := c["args"].([]any)
		if args[1] != "--container-runtime-endpoint=/run/containerd/containerd.sock" {
			t.Errorf("args %v: want kind's containerd socket", args)
		}
	}
	if !found {
		t.Error("no DaemonSet with the given image")
	}
}

func TestInstallRefusesForgeLabs(t *testing.T) {
	err := Addon{}.Install(context.Background(), &lab.Lab{}, images.SourceForge)
	if !errors.Is(err, ErrNoForgeBuild) || err.Error() != images.MultiNetworkPolicyUnavailable {
		t.Fatalf("err = %v", err)
	}
}
