package profile

import (
	"reflect"
	"strings"
	"testing"
)

// defaultHash pins the hash of the default profile. If this test fails,
// either the default profile or the canonical form changed: existing labs
// will then be reported as made from another profile. Update the constant
// only when that is intended.
const defaultHash = "e030ebcaeafa9792"

func TestHash(t *testing.T) {
	d := Default()
	if got := d.Hash(); got != defaultHash {
		t.Errorf("Default().Hash() = %s, want %s (see the comment on defaultHash)", got, defaultHash)
	}
	if len(d.Hash()) != 16 {
		t.Errorf("hash %q is not 16 hex digits", d.Hash())
	}

	minimal, err := Load("testdata/valid-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if minimal.Hash() != d.Hash() {
		t.Errorf("a profile that leaves everything to defaults hashes %s, Default() %s", minimal.Hash(), d.Hash())
	}

	var empty Profile
	if empty.Hash() != d.Hash() {
		t.Errorf("an empty profile hashes differently from Default()")
	}
	if !reflect.DeepEqual(empty, Profile{}) {
		t.Errorf("Hash modified its receiver: %+v", empty)
	}

	three := 3
	other := &Profile{Workers: &three}
	if other.Hash() == d.Hash() {
		t.Errorf("workers: 3 hashes like the default profile")
	}

	// Layout, comments and key order do not matter.
	a, err := Decode([]byte("apiVersion: nodelab.dev/v1alpha1\nkind: Profile\nworkers: 3\nname: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode([]byte("# same lab\nname: x\nkind: Profile\nworkers: 3\napiVersion: nodelab.dev/v1alpha1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Errorf("key order changes the hash: %s vs %s", a.Hash(), b.Hash())
	}
}

func TestDiff(t *testing.T) {
	if d := Diff(Default(), &Profile{}); d != nil {
		t.Errorf("Diff(Default, empty) = %q, want none (defaults apply)", d)
	}

	three := 3
	b := Default()
	b.Workers = &three
	b.Addons = []string{"traefik", "multus"}
	delete(b.Kubelet.EvictionHard, "imagefs.available")
	b.Kubelet.EvictionHard["memory.available"] = "200Mi"
	b.Kubelet.FeatureGates = map[string]bool{"NodeSwap": false}
	b.NodeImage = "nodelab.local/kind-node:v1.37.1"

	want := []string{
		"workers: 2 → 3",
		"nodeImage: (unset) → nodelab.local/kind-node:v1.37.1",
		"kubelet.evictionHard[imagefs.available]: 0% → (unset)",
		"kubelet.evictionHard[memory.available]: 300Mi → 200Mi",
		"kubelet.featureGates[NodeSwap]: (unset) → false",
		"addons: (unset) → [traefik, multus]",
	}
	got := Diff(Default(), b)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	back := Diff(b, Default())
	if len(back) != len(want) || back[0] != "workers: 3 → 2" {
		t.Errorf("reverse Diff = %q", back)
	}
}
