package forge

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func loadStatusFixture(t *testing.T) *dpkgDB {
	t.Helper()
	fh, err := os.Open("testdata/dpkg-status")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	db, err := parseDpkgStatus(fh)
	if err != nil {
		t.Fatalf("parse status fixture: %v", err)
	}
	return db
}

func TestParseDpkgStatus(t *testing.T) {
	db := loadStatusFixture(t)
	// 16 installed stanzas; oldtool only has config files left.
	if len(db.pkgs) != 16 {
		t.Errorf("installed packages = %d, want 16", len(db.pkgs))
	}
	if _, ok := db.pkgs["oldtool"]; ok {
		t.Error("oldtool (deinstall ok config-files) was kept")
	}
	ipt := db.pkgs["iptables"]
	if ipt == nil {
		t.Fatal("iptables missing")
	}
	if ipt.Version != "1.8.9-2" || ipt.Arch != "amd64" {
		t.Errorf("iptables version/arch = %q/%q", ipt.Version, ipt.Arch)
	}
	want := [][]string{{"libip4tc2"}, {"libip6tc2"}, {"libxtables12"}, {"netbase"}, {"libc6"}, {"libmnl0"},
		{"libnetfilter-conntrack3"}, {"libnfnetlink0"}, {"libnftnl11"}}
	if !slices.EqualFunc(ipt.Depends, want, slices.Equal) {
		t.Errorf("iptables depends = %v, want %v", ipt.Depends, want)
	}
	pam := db.pkgs["libpam-runtime"]
	if pam == nil || len(pam.Depends) != 3 || !slices.Equal(pam.Depends[0], []string{"debconf", "debconf-2.0"}) ||
		!slices.Equal(pam.Depends[1], []string{"debconf", "cdebconf"}) {
		t.Errorf("libpam-runtime alternatives parsed as %v", pam)
	}
	if got := db.providers["awk"]; !slices.Equal(got, []string{"mawk"}) {
		t.Errorf("providers of awk = %v", got)
	}
	if got := db.providers["libgcc1"]; !slices.Equal(got, []string{"libgcc-s1"}) {
		t.Errorf("providers of libgcc1 (versioned Provides) = %v", got)
	}
}

func TestParseDependsField(t *testing.T) {
	got := parseDependsField("libc6 (>= 2.34), python3:any | python3-minimal (<< 3.12) [amd64], ,foo")
	want := [][]string{{"libc6"}, {"python3", "python3-minimal"}, {"foo"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestDpkgClosure(t *testing.T) {
	db := loadStatusFixture(t)
	got, err := db.closure([]string{"iptables"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"gcc-12-base", "iptables", "libc6", "libgcc-s1", "libip4tc2", "libip6tc2", "libmnl0",
		"libnetfilter-conntrack3", "libnfnetlink0", "libnftnl11", "libxtables12", "netbase"}
	if !slices.Equal(got, want) {
		t.Errorf("closure(iptables) =\n %v\nwant\n %v", got, want)
	}
	// A virtual package resolves to its provider.
	if got, err := db.closure([]string{"awk"}); err != nil || !slices.Contains(got, "mawk") {
		t.Errorf("closure(awk) = %v, %v; want mawk in it", got, err)
	}
	// The first installed alternative wins: debconf, not cdebconf.
	_, err = db.closure([]string{"libpam-runtime"})
	if err == nil || !strings.Contains(err.Error(), "libpam-modules") {
		t.Errorf("closure(libpam-runtime) error = %v, want one naming the missing libpam-modules", err)
	}
	if _, err := db.closure([]string{"oldtool"}); err == nil {
		t.Error("closure of a package that is not installed succeeded")
	}
}

// Skipped packages count as satisfied: their dependencies are not
// followed and they are left out, while the rest of the closure stays.
func TestDpkgClosureSkipping(t *testing.T) {
	db := loadStatusFixture(t)
	got, err := db.closureSkipping([]string{"iptables"}, []string{"netbase", "libnftnl11"})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(got, "netbase") || slices.Contains(got, "libnftnl11") {
		t.Errorf("closureSkipping kept a skipped package: %v", got)
	}
	if !slices.Contains(got, "libmnl0") || !slices.Contains(got, "libc6") {
		t.Errorf("closureSkipping dropped a needed package: %v", got)
	}
	// libpam-modules is missing, but skipping it makes the closure resolvable.
	if _, err := db.closureSkipping([]string{"libpam-runtime"}, []string{"libpam-modules"}); err != nil {
		t.Errorf("closureSkipping(libpam-runtime, skip libpam-modules) = %v, want no error", err)
	}
}

// fakeRoot makes a tiny merged-usr tree with an alternatives chain.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib", "etc/alternatives", "var/lib/dpkg/info"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"bin":                        "usr/bin",
		"sbin":                       "usr/sbin",
		"lib":                        "usr/lib",
		"usr/sbin/iptables":          "/etc/alternatives/iptables",
		"etc/alternatives/iptables":  "/usr/sbin/xtables-nft-multi",
		"usr/sbin/iptables-nft-save": "xtables-nft-multi",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"usr/sbin/xtables-nft-multi": "ELF",
		"usr/bin/busybox":            "ELF",
		"usr/lib/libc.so.6":          "ELF",
		"var/lib/dpkg/info/iptables:amd64.list": "/.\n/usr\n/usr/sbin\n/usr/sbin/iptables-nft-save\n" +
			"/usr/sbin/xtables-nft-multi\n/usr/sbin/iptables\n/usr/share/doc/iptables/copyright\n",
		"var/lib/dpkg/info/netbase.list": "/.\n/etc\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolveInRoot(t *testing.T) {
	root := fakeRoot(t)
	for in, want := range map[string]string{
		"/bin/busybox":      "/usr/bin/busybox",
		"/lib/libc.so.6":    "/usr/lib/libc.so.6",
		"/sbin/iptables":    "/usr/sbin/iptables", // the last element stays a link
		"/usr/bin/busybox":  "/usr/bin/busybox",
		"/bin":              "/bin",
		"/nonexistent/file": "/nonexistent/file",
	} {
		got, err := resolveInRoot(root, in)
		if err != nil || got != want {
			t.Errorf("resolveInRoot(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestPackageFilesAndSymlinkChains(t *testing.T) {
	root := fakeRoot(t)
	files, err := packageFiles(root, &dpkgPackage{Name: "iptables", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if files[0] != "/usr" || slices.Contains(files, "/.") {
		t.Errorf("file list = %v", files)
	}
	if _, err := packageFiles(root, &dpkgPackage{Name: "netbase", Arch: "all"}); err != nil {
		t.Errorf("arch-less list: %v", err)
	}
	if _, err := packageFiles(root, &dpkgPackage{Name: "missing", Arch: "amd64"}); err == nil {
		t.Error("a package without a file list was accepted")
	}

	out := filepath.Join(t.TempDir(), "l.tar.gz")
	l, err := newLayer(out, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if err := addMergedUsrLinks(l, root); err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		if err := addRootfsPath(l, root, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	got := readLayer(t, out)
	for _, want := range []string{"bin", "sbin", "lib", "usr/sbin/iptables", "etc/alternatives/iptables",
		"usr/sbin/xtables-nft-multi", "usr/sbin/iptables-nft-save"} {
		if _, ok := got[want]; !ok {
			t.Errorf("layer lacks %s; has %v", want, keys(got))
		}
	}
	if _, ok := got["usr/share/doc/iptables/copyright"]; ok {
		t.Error("documentation was copied")
	}
	if h := got["etc/alternatives/iptables"]; h.Typeflag != tar.TypeSymlink || h.Linkname != "/usr/sbin/xtables-nft-multi" {
		t.Errorf("alternatives link = %+v", h)
	}
}

func readLayer(t *testing.T, p string) map[string]*tar.Header {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	gz, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(h.Name, "/")] = h
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
