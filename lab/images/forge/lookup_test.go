package forge

import (
	"testing"

	"github.com/nodelab/nodelab/lab/images"
)

func TestKeysChangeWithVersions(t *testing.T) {
	saved := pins
	t.Cleanup(func() { pins = saved })
	key := func() map[string]string {
		n, err := nodeKey()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"rootfs": rootfsKey(), "netbase": netbaseKey(), "base": baseKey(),
			"binaries": binariesKey(), "node": n}
	}
	before := key()
	if again := key(); again["node"] != before["node"] {
		t.Fatal("node key is not stable")
	}
	cases := []struct {
		bump    func()
		changed []string
		same    []string
	}{
		{func() { pins.Kubernetes = "v1.99.0" }, []string{"binaries", "node"}, []string{"rootfs", "base"}},
		{func() { pins.Etcd = "v9.9.9" }, []string{"binaries", "node"}, []string{"base"}},
		{func() { pins.Kind = "v9.9.9" }, []string{"base", "node"}, []string{"rootfs", "binaries"}},
		{func() { pins.PauseImage = "registry.k8s.io/pause:9" }, []string{"base", "node"}, []string{"binaries"}},
		{func() { pins.DebianSuite = "trixie" }, []string{"rootfs", "netbase", "base", "node"}, []string{"binaries"}},
	}
	for i, c := range cases {
		pins = saved
		c.bump()
		after := key()
		for _, k := range c.changed {
			if after[k] == before[k] {
				t.Errorf("case %d: %s key did not change", i, k)
			}
		}
		for _, k := range c.same {
			if after[k] != before[k] {
				t.Errorf("case %d: %s key changed", i, k)
			}
		}
	}
}

func TestComponentKeysDiffer(t *testing.T) {
	seen := map[string]string{}
	for name := range componentSpecs {
		k, err := componentKey(imageNamed(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := seen[k]; dup {
			t.Errorf("%s and %s have the same key", name, other)
		}
		seen[k] = name
	}
}

func imageNamed(t *testing.T, name string) images.Image {
	t.Helper()
	for _, img := range append(images.NodeComponents(), images.Workloads()...) {
		if img.Name == name {
			return img
		}
	}
	t.Fatalf("no component %s", name)
	return images.Image{}
}
