package profile

import (
	"slices"
	"strings"
	"testing"
)

func TestBuiltinsDecode(t *testing.T) {
	if len(Builtins()) == 0 {
		t.Fatal("no built-in profiles")
	}
	for _, name := range Builtins() {
		p, err := LoadBuiltinOrFile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Name == "" {
			t.Errorf("%s: no name", name)
		}
	}
	p, err := LoadBuiltinOrFile("multus")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.Addons, "multus") || p.WorkerCount() != 1 {
		t.Errorf("multus profile: addons %v workers %d", p.Addons, p.WorkerCount())
	}
}

func TestLoadBuiltinOrFileUnknown(t *testing.T) {
	_, err := LoadBuiltinOrFile("no-such-profile")
	if err == nil || !strings.Contains(err.Error(), "built-in: ") || !strings.Contains(err.Error(), "multus") {
		t.Fatalf("err = %v, want one listing the built-in profiles", err)
	}
	if _, err := LoadBuiltinOrFile("testdata/valid-minimal.yaml"); err != nil {
		t.Fatalf("a file path: %v", err)
	}
}
