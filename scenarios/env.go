package scenarios

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// Env is everything a runbook gets from its driver (the e2e suite or the
// CLI): there are no package-level settings.
type Env struct {
	// Lab is the cluster the scenario runs on (created or attached).
	Lab *lab.Lab
	// Addons builds and loads addon and workload images (the offline
	// forge, or upstream images).
	Addons addon.Options
	// Report receives the runbook's log lines, measurements and timelines.
	Report Reporter
	// Scale multiplies every timeout: the shared table's (T) and the
	// scenario's own (Scaled). 0 means 1.
	Scale float64
	// AllowNodeChanges lets scenarios that change nodes (NodeChanges) run
	// on a cluster nodelab did not create.
	AllowNodeChanges bool
}

// Reporter is where a runbook's outputs go: the e2e driver puts them in the
// spec's output and report entries (JUnit, HTML report), the CLI prints them.
type Reporter interface {
	// Logf is one line of what the runbook did or saw.
	Logf(format string, args ...any)
	// Measure is a named measurement ("failover recovery": "2.3s").
	Measure(name, value string)
	// Timeline is a recorded timeline of the current step, plotted in the
	// report under name.
	Timeline(name string, tl *timeline.Timeline)
}

// Logf sends a line to the reporter (none: dropped).
func (e Env) Logf(format string, args ...any) {
	if e.Report != nil {
		e.Report.Logf(format, args...)
	}
}

// Measure sends a measurement to the reporter.
func (e Env) Measure(name, value string) {
	if e.Report != nil {
		e.Report.Measure(name, value)
	}
}

// Timeline sends a timeline to the reporter; a nil one is ignored.
func (e Env) Timeline(name string, tl *timeline.Timeline) {
	if e.Report != nil && tl != nil {
		e.Report.Timeline(name, tl)
	}
}

// Scaled multiplies a value of a timeout table by the scale.
func (e Env) Scaled(d time.Duration) time.Duration {
	if e.Scale <= 0 {
		return d
	}
	return time.Duration(float64(d) * e.Scale)
}

// T returns the shared timeout table scaled (Poll is not scaled).
func (e Env) T() Timeouts {
	t := DefaultTimeouts
	return Timeouts{PodStart: e.Scaled(t.PodStart), NodeReady: e.Scaled(t.NodeReady), Network: e.Scaled(t.Network), Cleanup: e.Scaled(t.Cleanup), Poll: t.Poll}
}

// TimeoutScaleEnv sets the scale factor (e.g. 2 on a loaded CI runner).
const TimeoutScaleEnv = "NODELAB_TIMEOUT_SCALE"

// ScaleFromEnv reads NODELAB_TIMEOUT_SCALE: 1 when unset, an error naming
// the variable when it is not a positive number.
func ScaleFromEnv() (float64, error) {
	v := os.Getenv(TimeoutScaleEnv)
	if v == "" {
		return 1, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !ValidScale(f) {
		return 0, fmt.Errorf("%s=%q: want a number above 0 and at most %d (2 doubles every timeout)", TimeoutScaleEnv, v, MaxScale)
	}
	return f, nil
}

// MaxScale bounds the timeout scale: beyond it a timeout is hours long (and
// far beyond, a time.Duration overflows into a negative one).
const MaxScale = 100

// ValidScale reports whether f is a usable timeout scale. NaN, which
// strconv.ParseFloat accepts and which compares false to everything, is not.
func ValidScale(f float64) bool { return f > 0 && f <= MaxScale }
