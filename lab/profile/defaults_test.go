package profile

import (
	"reflect"
	"testing"
)

// TestDefault pins what the embedded default.yaml must say: these values
// keep a kind node from evicting pods on a busy laptop disk.
func TestDefault(t *testing.T) {
	d := Default()
	if d.Name != DefaultName || DefaultName != "nodelab" {
		t.Errorf("name = %q, want %q", d.Name, DefaultName)
	}
	if d.Workers == nil || *d.Workers != DefaultWorkers || DefaultWorkers != 2 {
		t.Errorf("workers = %v, want %d", d.Workers, DefaultWorkers)
	}
	if d.ImageSource != "auto" || d.APIVersion != APIVersion || d.Kind != Kind {
		t.Errorf("imageSource/apiVersion/kind = %q/%q/%q", d.ImageSource, d.APIVersion, d.Kind)
	}
	wantHard := map[string]string{
		"memory.available":  "300Mi",
		"nodefs.available":  "0%",
		"nodefs.inodesFree": "0%",
		"imagefs.available": "0%",
	}
	if !reflect.DeepEqual(d.Kubelet.EvictionHard, wantHard) {
		t.Errorf("evictionHard = %v, want %v", d.Kubelet.EvictionHard, wantHard)
	}
	if !reflect.DeepEqual(d.Kubelet.EvictionSoft, map[string]string{"memory.available": "500Mi"}) ||
		!reflect.DeepEqual(d.Kubelet.EvictionSoftGracePeriod, map[string]string{"memory.available": "30s"}) {
		t.Errorf("evictionSoft = %v, grace = %v", d.Kubelet.EvictionSoft, d.Kubelet.EvictionSoftGracePeriod)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("Default() does not validate: %v", err)
	}
}

func TestDefaultReturnsACopy(t *testing.T) {
	d := Default()
	d.Kubelet.EvictionHard["memory.available"] = "1Gi"
	*d.Workers = 7
	if got := Default(); got.Kubelet.EvictionHard["memory.available"] != "300Mi" || *got.Workers != 2 {
		t.Errorf("mutating one Default() changed the next: %+v", got)
	}
	var p Profile
	p.SetDefaults()
	p.Kubelet.EvictionSoft["memory.available"] = "1Gi"
	if got := Default(); got.Kubelet.EvictionSoft["memory.available"] != "500Mi" {
		t.Errorf("SetDefaults shares maps with the default profile")
	}
}

func TestSetDefaults(t *testing.T) {
	var empty Profile
	empty.SetDefaults()
	if !reflect.DeepEqual(&empty, Default()) {
		t.Errorf("SetDefaults on an empty profile = %+v, want Default()", empty)
	}

	p, err := Load("testdata/valid-kubelet-defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Kubelet.EvictionHard == nil || len(p.Kubelet.EvictionHard) != 0 {
		t.Errorf("explicit evictionHard: {} = %v, want kept empty", p.Kubelet.EvictionHard)
	}

	// Soft thresholds come with their grace periods or not at all.
	soft := &Profile{Kubelet: Kubelet{EvictionSoft: map[string]string{"memory.available": "1Gi"}}}
	soft.SetDefaults()
	if soft.Kubelet.EvictionSoftGracePeriod != nil {
		t.Errorf("grace periods defaulted next to a user's soft thresholds: %v", soft.Kubelet.EvictionSoftGracePeriod)
	}

	zero := 0
	keep := &Profile{Name: "x", Workers: &zero, ImageSource: "forge"}
	keep.SetDefaults()
	if keep.Name != "x" || *keep.Workers != 0 || keep.ImageSource != "forge" {
		t.Errorf("SetDefaults overwrote set fields: %+v", keep)
	}
}

// TestDeepCopy fills every field and checks that the copy shares nothing,
// and that every reference-typed field is one DeepCopy knows about (a new
// map or slice field must be added there).
func TestDeepCopy(t *testing.T) {
	p, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := p.DeepCopy()
	if !reflect.DeepEqual(p, c) {
		t.Fatalf("copy differs: %+v", c)
	}
	*c.Workers = 5
	c.Addons[0] = "x"
	c.Kubelet.EvictionHard["memory.available"] = "x"
	c.Kubelet.EvictionSoft["memory.available"] = "x"
	c.Kubelet.EvictionSoftGracePeriod["memory.available"] = "x"
	c.Kubelet.FeatureGates["KubeletPSI"] = false
	if again, _ := Load("testdata/valid-full.yaml"); !reflect.DeepEqual(p, again) {
		t.Errorf("mutating the copy changed the original: %+v", p)
	}

	covered := map[string]bool{
		"Workers": true, "Addons": true, "Kubelet.EvictionHard": true, "Kubelet.EvictionSoft": true,
		"Kubelet.EvictionSoftGracePeriod": true, "Kubelet.FeatureGates": true,
	}
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, prefix string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(f.Type, prefix+f.Name+".")
			case reflect.Map, reflect.Slice, reflect.Pointer:
				if !covered[prefix+f.Name] {
					t.Errorf("field %s%s is a %s that DeepCopy does not copy", prefix, f.Name, f.Type.Kind())
				}
			}
		}
	}
	walk(profileType, "")
}
