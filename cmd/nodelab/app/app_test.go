package app

import (
	"bytes"
	"strings"
	"testing"
)

// Bad input is rejected with exit code 2 and a message that says what to do,
// before anything touches Docker (PATH is emptied so a docker call would fail
// differently).
func TestUsageErrorsExitTwo(t *testing.T) {
	t.Setenv("PATH", "")
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"run", "no-such-scenario"}, []string{`unknown scenario "no-such-scenario"`, "known scenarios are", "lab"}},
		{[]string{"run"}, []string{"name at least one scenario"}},
		{[]string{"up", "--bogus"}, []string{"unknown flag: --bogus"}},
		{[]string{"up", "extra-arg"}, []string{"takes no arguments"}},
		{[]string{"up", "--profile", "testdata/broken-profile.yaml"}, []string{"evictionHrad", "workers", "Not_A_Valid_Name"}},
		{[]string{"up", "--profile", "testdata/does-not-exist.yaml"}, []string{"does-not-exist.yaml"}},
		{[]string{"nlb"}, []string{"--namespace and --service are required"}},
		{[]string{"nlb", "-n", "x", "--service", "y", "--target-type", "alb"}, []string{`--target-type "alb"`, "instance or ip"}},
		{[]string{"nlb", "-n", "x", "--service", "y", "--time-scale", "0.5"}, []string{"--time-scale 0.5", "1 (AWS's timing)"}},
		{[]string{"nlb", "-n", "x", "--service", "y", "--readiness-gate", "g"}, []string{"--readiness-gate needs --target-type ip"}},
		{[]string{"nlb", "-n", "x", "--service", "y", "--listen", "localhost"}, []string{`--listen "localhost"`, "127.0.0.1:8080"}},
	} {
		var out, errb bytes.Buffer
		code := Main(tc.args, &out, &errb)
		if code != 2 {
			t.Errorf("nodelab %s: exit %d, want 2 (stderr: %s)", strings.Join(tc.args, " "), code, errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("nodelab %s: stderr %q does not mention %q", strings.Join(tc.args, " "), errb.String(), w)
			}
		}
	}
}

func TestScenariosListsLabWithLabel(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"scenarios"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "scenario:lab") || !strings.Contains(out.String(), "TYPICAL") {
		t.Errorf("scenarios output:\n%s\nwant the lab scenario with its label and typical duration", out.String())
	}
}

func TestNoDockerIsARuntimeErrorThatSaysWhatToDo(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no docker binary
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var out, errb bytes.Buffer
	code := Main([]string{"up", "--name", "nodocker"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "no Docker engine") || !strings.Contains(errb.String(), "docker-up") {
		t.Errorf("exit %d, stderr %q; want 1 and a message naming the missing Docker engine and how to start it", code, errb.String())
	}
}
