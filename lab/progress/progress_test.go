package progress

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestPrefixAndNote(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf)
	clock := time.Unix(0, 0)
	r.now = func() time.Time { return clock }
	bg := r.WithPrefix("[background] ")
	s := bg.Start("Building etcd")
	clock = clock.Add(41 * time.Second)
	if err := s.EndNote(nil, "CPU 1m12s"); err != nil {
		t.Fatal(err)
	}
	f := r.Start("Building pause")
	want := errors.New("boom")
	if got := f.EndNote(want, "ignored on failure"); got != want { //nolint:errorlint // identity is the point: the same error value, not a wrapped one
		t.Fatalf("EndNote must return the error unchanged, got %v", got)
	}
	bg.Printf("100%% done in %s", "1s")
	const expect = " • [background] Building etcd ...\n" +
		" ✓ [background] Building etcd (41s; CPU 1m12s)\n" +
		" • Building pause ...\n" +
		" ✗ Building pause (0s): boom\n" +
		"[background] 100% done in 1s\n"
	if buf.String() != expect {
		t.Fatalf("output:\n%s\nwant:\n%s", buf.String(), expect)
	}
	var nilR *Reporter
	if nilR.WithPrefix("x") != nil {
		t.Fatal("a nil reporter stays nil (silent)")
	}
}
