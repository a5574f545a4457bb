package profile

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidProfiles decodes every testdata/valid-*.yaml.
func TestValidProfiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid-*.yaml")
	if len(files) < 4 {
		t.Fatalf("want at least 4 testdata/valid-*.yaml, found %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := p.Validate(); err != nil {
				t.Errorf("decoded profile does not validate: %v", err)
			}
		})
	}
}

// TestInvalidProfiles checks that each testdata/invalid-*.yaml fails with
// one problem per "# want:" line of its header, each mentioned in the
// error: every problem is reported, and nothing twice.
func TestInvalidProfiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) < 10 {
		t.Fatalf("want at least 10 testdata/invalid-*.yaml, found %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			wants := wantLines(data)
			if len(wants) == 0 {
				t.Fatalf("%s has no '# want:' header lines", f)
			}
			p, err := Decode(data)
			if err == nil {
				t.Fatalf("Decode succeeded (%+v), want an error", p)
			}
			msg := err.Error()
			for _, w := range wants {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not mention %q; got:\n%s", w, msg)
				}
			}
			if got := leafErrors(err); len(got) != len(wants) {
				t.Errorf("got %d problems, want %d (one per '# want:' line):\n%s", len(got), len(wants), msg)
			}
		})
	}
}

func wantLines(data []byte) []string {
	var wants []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
			wants = append(wants, w)
		}
	}
	return wants
}

// leafErrors flattens nested errors.Join trees into their problems.
func leafErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

func TestDecodeEmpty(t *testing.T) {
	for _, in := range []string{"", "  \n# only a comment\n"} {
		_, err := Decode([]byte(in))
		if err == nil || !strings.Contains(err.Error(), "empty profile") && !strings.Contains(err.Error(), "must be a YAML mapping") {
			t.Errorf("Decode(%q) = %v, want an empty-profile error", in, err)
		}
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	_, err := Load("testdata/invalid-workers.yaml")
	if err == nil || !strings.Contains(err.Error(), "testdata/invalid-workers.yaml") {
		t.Errorf("Load error %v does not name the file", err)
	}
	_, err = Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want it to wrap os.ErrNotExist", err)
	}
}

func TestDecodeFull(t *testing.T) {
	p, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "chaos-lab" || p.WorkerCount() != 3 || p.ImageSource != "upstream" || len(p.Addons) != 4 {
		t.Errorf("unexpected top-level fields: %+v", p)
	}
	if got := p.Kubelet.EvictionSoftGracePeriod["nodefs.available"]; got != "1m30s" {
		t.Errorf("evictionSoftGracePeriod[nodefs.available] = %q, want 1m30s", got)
	}
	if !p.Kubelet.FeatureGates["KubeletPSI"] || p.Kubelet.FeatureGates["NodeSwap"] {
		t.Errorf("featureGates = %v", p.Kubelet.FeatureGates)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"evictionHrad", "evictionHard", 1},
		{"worker", "workers", 1},
		{"kind", "kind", 0},
		{"", "abc", 3},
		{"abc", "abd", 1},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	if got := closest("spec", []string{"apiVersion", "kind", "name"}); got != "" {
		t.Errorf("closest(spec) = %q, want no suggestion", got)
	}
}
