package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRun(t *testing.T, cases string) string {
	t.Helper()
	dir := t.TempDir()
	xml := `<?xml version="1.0"?><testsuites><testsuite name="nodelab e2e">` + cases + `</testsuite></testsuites>`
	if err := os.WriteFile(filepath.Join(dir, "junit_e2e.xml"), []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAVerdictThatChangesIsFlagged(t *testing.T) {
	a := writeRun(t, `<testcase name="[It] lab CoreDNS answers" time="1.5"></testcase><testcase name="[It] multus pitfall" time="0.2"><skipped message="skipped - flannel does not enforce"></skipped></testcase>`)
	b := writeRun(t, `<testcase name="[It] lab CoreDNS answers" time="3"><failure message="no answer within 90s&#xA;more"></failure></testcase><testcase name="[It] multus pitfall" time="0.2"><skipped message="skipped - flannel does not enforce"></skipped></testcase>`)
	runs, err := readRuns([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	m := newMatrix(runs)
	if c := m.changed(); len(c) != 1 || c[0] != "[It] lab CoreDNS answers" {
		t.Fatalf("changed = %v, want only the CoreDNS spec", c)
	}
	var out bytes.Buffer
	m.write(&out)
	for _, want := range []string{"**CHANGED** [It] lab CoreDNS answers | pass 2s | FAIL 3s |", "FAIL [It] lab CoreDNS answers: no answer within 90s", "skip [It] multus pitfall: flannel does not enforce", "1 spec(s) changed verdict"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("matrix lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAMissingRunIsAnError(t *testing.T) {
	if _, err := readRuns([]string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "junit_e2e.xml") {
		t.Fatalf("readRuns(empty dir) = %v, want an error naming junit_e2e.xml", err)
	}
}
