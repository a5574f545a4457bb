package netpolicy_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/netpolicy"
	"github.com/nodelab/nodelab/lab/profile"
	"github.com/nodelab/nodelab/lab/progress"
)

// liveLab is the lab TestProbeLive creates and always deletes; never
// "nodelab", the default lab someone may be using.
const liveLab = "netpol-probe"

// TestProbeLive creates a forge lab with one worker, probes it twice
// (Probe, then Cached twice: one probe) and deletes it. The offline lab's
// flannel does not enforce NetworkPolicy, so the verdict is logged, not
// asserted.
func TestProbeLive(t *testing.T) {
	if os.Getenv("NODELAB_NETPOLICY_LIVE") != "1" || testing.Short() {
		t.Skip("live probe: needs Docker and the forge node image " + images.ForgeNodeImage +
			"; set NODELAB_NETPOLICY_LIVE=1 (without -short) to create lab " + liveLab + " for it")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	workers := 1
	p := &profile.Profile{
		APIVersion: profile.APIVersion, Kind: profile.Kind, Name: liveLab, Workers: &workers,
		ImageSource: images.SourceForge, NodeImage: images.ForgeNodeImage,
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer dcancel()
		if err := lab.Down(dctx, liveLab, lab.DownOptions{}); err != nil {
			t.Errorf("delete lab %s: %v", liveLab, err)
		}
	})
	l, err := lab.Up(ctx, lab.UpOptions{Profile: p, Progress: progress.New(os.Stderr), ReadyTimeout: 5 * time.Minute})
	if err != nil {
		t.Fatalf("create lab %s: %v", liveLab, err)
	}

	start := time.Now()
	v, err := netpolicy.Probe(ctx, l, netpolicy.ProbeOptions{Log: os.Stderr})
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	t.Logf("verdict after %s: Enforced=%v\n  %s", time.Since(start).Round(100*time.Millisecond), v.Enforced, v.Reason)

	start = time.Now()
	c1, err := netpolicy.Cached(ctx, l, netpolicy.ProbeOptions{})
	if err != nil {
		t.Fatalf("cached probe: %v", err)
	}
	first := time.Since(start)
	start = time.Now()
	c2, err := netpolicy.Cached(ctx, l, netpolicy.ProbeOptions{})
	if err != nil {
		t.Fatalf("cached verdict: %v", err)
	}
	t.Logf("Cached: first %s (probed), second %s", first.Round(100*time.Millisecond), time.Since(start).Round(time.Millisecond))
	if c1 != c2 || c1.Enforced != v.Enforced {
		t.Errorf("verdicts disagree: Probe %+v, Cached %+v then %+v", v, c1, c2)
	}
}
