package forge

import (
	"slices"
	"testing"
)

func TestHostMirrorParsing(t *testing.T) {
	deb822 := `Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
`
	got := parseDeb822Sources(deb822)
	if len(got) != 2 || got[0].URIs[0] != "http://mirror.example/debian" || !slices.Equal(got[0].Suites, []string{"bookworm", "bookworm-updates"}) {
		t.Fatalf("deb822 = %+v", got)
	}
	list := "# deb http://commented.example/debian bookworm main\n" +
		"deb [arch=amd64 signed-by=/k.gpg] http://list.example/debian trixie main\n" +
		"deb http://list.example/security trixie-security main\n"
	gotList := parseSourcesList(list)
	if len(gotList) != 2 || gotList[0].URIs[0] != "http://list.example/debian" || gotList[0].Suites[0] != "trixie" {
		t.Fatalf("sources.list = %+v", gotList)
	}

	all := append(gotList, got...)
	if m := pickMirror(all, "bookworm"); m != "http://mirror.example/debian" {
		t.Errorf("mirror for bookworm = %q, want the entry that has the suite", m)
	}
	if m := pickMirror(all, "sid"); m != "http://list.example/debian" {
		t.Errorf("mirror for sid = %q, want the first non-security entry", m)
	}
	if m := pickMirror(parseSourcesList("deb http://s.example/ bookworm-security main\n"), "bookworm"); m != "" {
		t.Errorf("security-only sources gave %q", m)
	}
}

func TestRootfsHasWhatLaterStepsCut(t *testing.T) {
	for _, p := range append(netbaseRoots, "containerd", "runc", "containernetworking-plugins", "systemd-sysv") {
		if !slices.Contains(rootfsPackages, p) && p != "libc6" && p != "netbase" {
			t.Errorf("debootstrap does not --include %s", p)
		}
	}
}
