package scenarios

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Timeouts is the one table of waits every scenario uses. Values are for a
// 2-core host; TimeoutScale multiplies them all.
type Timeouts struct {
	// PodStart: a pod from a preloaded image becomes Ready.
	PodStart time.Duration
	// NodeReady: every node reports Ready.
	NodeReady time.Duration
	// Network: pod-to-pod or Service traffic starts to flow after pods are Ready.
	Network time.Duration
	// Cleanup: a namespace and its pods are gone.
	Cleanup time.Duration
	// Poll is the polling interval of Eventually-style waits.
	Poll time.Duration
}

// DefaultTimeouts are the unscaled values.
var DefaultTimeouts = Timeouts{
	PodStart:  3 * time.Minute,
	NodeReady: 5 * time.Minute,
	Network:   90 * time.Second,
	Cleanup:   3 * time.Minute,
	Poll:      2 * time.Second,
}

// TimeoutScaleEnv sets the scale factor (e.g. 2 on a loaded CI runner).
const TimeoutScaleEnv = "NODELAB_TIMEOUT_SCALE"

// TimeoutScale is the current scale factor; e2e's -nodelab.timeout-scale
// flag and the CLI's --timeout-scale set it, NODELAB_TIMEOUT_SCALE seeds it.
var TimeoutScale = 1.0

func init() {
	if v := os.Getenv(TimeoutScaleEnv); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			TimeoutScale = f
		} else {
			fmt.Fprintf(os.Stderr, "nodelab: ignoring %s=%q: want a positive number\n", TimeoutScaleEnv, v)
		}
	}
}

// T returns the timeout table scaled by TimeoutScale (Poll is not scaled).
func T() Timeouts {
	s := func(d time.Duration) time.Duration { return time.Duration(float64(d) * TimeoutScale) }
	t := DefaultTimeouts
	return Timeouts{PodStart: s(t.PodStart), NodeReady: s(t.NodeReady), Network: s(t.Network), Cleanup: s(t.Cleanup), Poll: t.Poll}
}
