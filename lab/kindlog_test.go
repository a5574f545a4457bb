package lab

import (
	"bytes"
	"io"
	"log/slog"
	"regexp"
	"testing"

	"github.com/nodelab/nodelab/lab/progress"
)

func TestKindLoggerTurnsPhasesIntoTimedSteps(t *testing.T) {
	var out bytes.Buffer
	k := newKindLogger(progress.New(&out), slog.New(slog.NewTextHandler(io.Discard, nil)))
	k.V(0).Infof(" • %s  ...\n", "Preparing nodes 📦")
	k.V(0).Infof(" ✓ %s\n", "Preparing nodes 📦")
	k.V(0).Infof(" • %s  ...\n", "Starting control-plane 🕹️")
	k.V(0).Infof(" ✗ %s\n", "Starting control-plane 🕹️")
	k.V(1).Info("debug detail")
	want := regexp.MustCompile(`(?s)✓ Preparing nodes 📦 \(\d.*s\).*✗ Starting control-plane 🕹️ \(.*s\): failed`)
	if !want.Match(out.Bytes()) {
		t.Errorf("progress output:\n%s\nwant timed ✓ and ✗ lines", out.String())
	}
	if bytes.Contains(out.Bytes(), []byte("debug detail")) {
		t.Errorf("V(1) lines must not reach the progress output:\n%s", out.String())
	}
}
