package wait

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
)

func TestUntilPassesOnceTheStateComes(t *testing.T) {
	n := 0
	err := Until(context.Background(), Within{What: "three calls", Timeout: 5 * time.Second, Poll: time.Millisecond}, func(g gomega.Gomega) {
		n++
		g.Expect(n).To(gomega.BeNumerically(">=", 3))
	})
	if err != nil || n != 3 {
		t.Fatalf("Until: err %v after %d calls, want nil after 3", err, n)
	}
}

func TestUntilNamesWhatAndTheLastFailure(t *testing.T) {
	err := Until(context.Background(), Within{What: "the answer", Timeout: 20 * time.Millisecond, Poll: time.Millisecond}, func(g gomega.Gomega) {
		g.Expect(41).To(gomega.Equal(42))
	})
	if err == nil || !strings.Contains(err.Error(), "the answer within 20ms") || !strings.Contains(err.Error(), "41") {
		t.Fatalf("Until error = %v, want it to name the wait and the value seen", err)
	}
}

func TestUntilStopsTryingAtOnce(t *testing.T) {
	calls := 0
	start := time.Now()
	err := Until(context.Background(), Within{What: "a pod that cannot start", Timeout: time.Minute, Poll: time.Millisecond}, func(g gomega.Gomega) {
		calls++
		gomega.StopTrying("image pull failed: ErrImagePull").Now()
	})
	if err == nil || !strings.Contains(err.Error(), "ErrImagePull") || calls != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("Until with StopTrying: err %v, %d calls, %s; want the reason at once", err, calls, time.Since(start))
	}
}

func TestHoldsFailsOnTheFirstBreak(t *testing.T) {
	n := 0
	err := Holds(context.Background(), Within{What: "no evictions", Timeout: time.Second, Poll: time.Millisecond}, func(g gomega.Gomega) {
		n++
		g.Expect(n).To(gomega.BeNumerically("<", 5), "evictions")
	})
	if err == nil || !strings.Contains(err.Error(), "no evictions for 1s") {
		t.Fatalf("Holds error = %v, want it to name the broken condition", err)
	}
}

func TestZeroTimeoutIsAnError(t *testing.T) {
	if err := Until(context.Background(), Within{What: "x"}, func(gomega.Gomega) {}); err == nil {
		t.Fatal("Until with no timeout returned nil")
	}
}

func TestAnEndedContextIsInTheError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Until(ctx, Within{What: "a node", Timeout: time.Minute, Poll: time.Millisecond}, func(g gomega.Gomega) {
		g.Expect(false).To(gomega.BeTrue())
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Until with a cancelled context = %v, want it to wrap context.Canceled", err)
	}
}
