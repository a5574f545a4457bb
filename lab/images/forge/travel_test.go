package forge

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab/images"
)

func TestArchiveFileLayout(t *testing.T) {
	dir := t.TempDir()
	saved, err := os.CreateTemp(dir, "saved")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := saved.WriteString("docker save bytes"); err != nil {
		t.Fatal(err)
	}
	m := ArchiveManifest{Format: archiveFormat, Created: time.Unix(1, 0).UTC(), Images: []ArchivedImage{{Name: "node", Ref: images.ForgeNodeImage, Key: "k1"}}}
	path := filepath.Join(dir, "images.tar")
	if err := writeArchiveFile(path, m, saved); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	tr := tar.NewReader(fh)
	var names []string
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, hdr.Name)
		if hdr.Name == archiveManifestName {
			var got ArchiveManifest
			if err := json.NewDecoder(tr).Decode(&got); err != nil || got.Images[0].Key != "k1" {
				t.Fatalf("manifest: %+v, %v", got, err)
			}
		}
	}
	if strings.Join(names, ",") != archiveManifestName+","+archiveImagesName {
		t.Fatalf("entries %v: the manifest must come first, then the docker save", names)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the temporary file must be renamed into place")
	}
}

func TestLoadRefusesWhatIsNotAnArchive(t *testing.T) {
	f, err := New(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, entries map[string]string, order ...string) string {
		p := filepath.Join(dir, name)
		fh, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(fh)
		for _, n := range order {
			body := entries[n]
			if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body))}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		tw.Close()
		fh.Close()
		return p
	}
	plain := filepath.Join(dir, "plain.txt")
	if err := os.WriteFile(plain, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.tar"), "open images archive"},
		{"not a tar", plain, "is not a nodelab images archive"},
		{"a docker save", write("docker.tar", map[string]string{"manifest.json": "[]"}, "manifest.json"), "is not a nodelab images archive"},
		{"bad manifest", write("bad.tar", map[string]string{archiveManifestName: "{"}, archiveManifestName), "is not valid"},
		{"newer format", write("v2.tar", map[string]string{archiveManifestName: `{"format":2}`}, archiveManifestName), "format 2"},
		{"truncated", write("cut.tar", map[string]string{archiveManifestName: `{"format":1}`}, archiveManifestName), "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := f.Load(context.Background(), c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load(%s) = %v, want an error containing %q", c.path, err, c.want)
			}
		})
	}
}

func TestImageStateSays(t *testing.T) {
	img := images.Image{Name: "chaos-daemon", Forge: "nodelab.local/chaos-daemon:v1"}
	cases := []struct {
		st      ImageState
		current bool
		want    string
	}{
		{ImageState{Image: img, Key: "a", Want: "a"}, true, "up to date"},
		{ImageState{Image: img, Key: "a", Want: "b"}, false, "STALE: built from other inputs (image a, this checkout's recipe b); 'nodelab images build' (with --image chaos-daemon"},
		{ImageState{Image: img, Err: errNoImage}, false, "not in the local engine (nodelab images build --image chaos-daemon builds it)"},
		{ImageState{Image: img, Key: "a", Err: errors.New("no module proxy")}, false, "inputs not checked (no module proxy; set GOPROXY or fill the module cache to check them)"},
	}
	for _, c := range cases {
		if c.st.Current() != c.current || !strings.Contains(c.st.String(), c.want) {
			t.Errorf("%+v: Current %v, %q; want %v, %q", c.st, c.st.Current(), c.st.String(), c.current, c.want)
		}
	}
}

func TestCheckRegistry(t *testing.T) {
	for _, ok := range []string{"localhost:5000", "registry.example.com/team/nodelab", "127.0.0.1:5000"} {
		if err := checkRegistry(ok); err != nil {
			t.Errorf("checkRegistry(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "https://registry.example.com", "Registry.example.com", "host:5000/", "a b"} {
		if err := checkRegistry(bad); err == nil {
			t.Errorf("checkRegistry(%q) accepted", bad)
		}
	}
}
