package forge

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLayerWriter(t *testing.T) {
	src := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "layer.tar.gz")
	l, err := newLayer(out, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	steps := []error{
		l.binary("/usr/lib/cni/bridge", src),
		l.hardlink("opt/cni/bin/bridge", "/usr/lib/cni/bridge"),
		l.symlink("usr/local/bin/ctr", "/usr/bin/ctr"),
		l.file("etc/motd", 0o644, []byte("hi")),
		l.dirOwned("home/nonroot", 0o700, 65532, 65532),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := l.file("etc/motd", 0o644, nil); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate name: err = %v", err)
	}
	if err := l.hardlink("x", "not/there"); err == nil {
		t.Error("hard link to a missing file was accepted")
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	got := readLayer(t, out)
	// Parents are created before their children, as root-owned 0755 folders.
	for _, d := range []string{"usr", "usr/lib", "usr/lib/cni", "opt/cni/bin", "home"} {
		if h, ok := got[d]; !ok || h.Typeflag != tar.TypeDir || h.Mode != 0o755 {
			t.Errorf("parent %s = %+v", d, h)
		}
	}
	// Extraction applies a hard link's mode to the shared inode, so it must
	// repeat the file's.
	if h := got["opt/cni/bin/bridge"]; h.Typeflag != tar.TypeLink || h.Mode != 0o755 || h.Linkname != "usr/lib/cni/bridge" {
		t.Errorf("hard link = %+v", h)
	}
	if h := got["home/nonroot"]; h.Uid != 65532 || h.Mode != 0o700 {
		t.Errorf("owned folder = %+v", h)
	}
	if h := got["usr/lib/cni/bridge"]; h.Mode != 0o755 || h.Size != int64(len("#!/bin/sh\n")) || !h.ModTime.Equal(synthTime) {
		t.Errorf("binary = %+v", h)
	}
}

func TestLayerTreeKeepsCapabilitiesAndHardLinks(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(root, "usr/bin/a")
	if err := os.WriteFile(a, []byte("x"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, filepath.Join(root, "usr/bin/b")); err != nil {
		t.Fatal(err)
	}
	// cap_net_raw=ep in VFS_CAP_REVISION_2 form, as ping has it.
	capNetRaw := string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	setCap := unix.Setxattr(a, "security.capability", []byte(capNetRaw), 0)
	if setCap != nil {
		t.Logf("cannot set a file capability here (%v); not checking that it is kept", setCap)
	}
	if err := os.MkdirAll(filepath.Join(root, "proc/1"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "tree.tar.gz")
	l, err := newLayer(out, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	err = l.tree(root, func(rel string, d os.DirEntry) (bool, bool) { return false, rel == "proc" })
	if err != nil {
		t.Fatal(err)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	got := readLayer(t, out)
	if _, ok := got["proc"]; !ok {
		t.Error("proc folder itself was dropped")
	}
	if _, ok := got["proc/1"]; ok {
		t.Error("proc contents were kept")
	}
	if h := got["usr/bin/a"]; setCap == nil && h.PAXRecords["SCHILY.xattr.security.capability"] != capNetRaw {
		t.Errorf("file capability not kept: %q", h.PAXRecords)
	}
	if h := got["usr/bin/b"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/a" || h.Mode != 0o750 {
		t.Errorf("second name of a hard-linked file = %+v", h)
	}
}
