package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
	"github.com/nodelab/nodelab/scenarios"
)

// theEnv is what every scenario gets (set in BeforeSuite): the lab, the
// addon builder and the timeout scale; each scenario adds its reporter.
var theEnv scenarios.Env

var describeOnce sync.Once

// describeScenarios builds one Ordered container per catalog scenario, the
// same for every scenario: setup steps in BeforeAll (a failure skips the
// rest), one It per other step with its scaled timeout, the cleanup and
// then the leak checks as DeferCleanup (they run even after a failure),
// timelines attached to the step that recorded them. Called once, before
// ginkgo builds the tree, when the timeout scale is known.
func describeScenarios(all []scenarios.Scenario, scale float64) {
	describeOnce.Do(func() {
		for _, s := range all {
			describeScenario(s, scenarios.Env{Scale: scale})
		}
	})
}

func describeScenario(s scenarios.Scenario, scale scenarios.Env) {
	decorators := []any{ginkgo.Label(s.Label()), ginkgo.Ordered}
	for _, l := range s.Labels {
		decorators = append(decorators, ginkgo.Label(string(l)))
		if l == scenarios.Disruptive {
			decorators = append(decorators, ginkgo.Serial)
		}
	}
	listed := s.Steps()
	nSetup := 0
	var setupTimeout time.Duration
	for _, st := range listed.Steps {
		if st.Side != scenarios.Setup {
			break
		}
		nSetup++
		setupTimeout += scale.Scaled(st.Timeout)
	}
	ginkgo.Describe(s.ID, append(decorators, func() {
		var rb scenarios.Runbook
		rep := &specReporter{scenario: s.ID}

		bind := func() {
			if reason := scenarios.Unmet(theEnv, s.Needs); reason != "" {
				ginkgo.Skip(reason)
			}
			env := theEnv
			env.Report = rep
			rb = s.Runbook(env)
			// Cleanups run last-in first-out: the leak checks, registered
			// first, run after the cleanup, in all cases.
			for i := len(rb.LeakChecks) - 1; i >= 0; i-- {
				lc := rb.LeakChecks[i]
				ginkgo.DeferCleanup(func(ctx context.Context) {
					gomega.Expect(lc.Run(ctx)).To(gomega.Succeed(), "%s, after cleanup", lc.Name)
				}, ginkgo.NodeTimeout(scale.Scaled(lc.Timeout)))
			}
			ginkgo.DeferCleanup(func(ctx context.Context) {
				gomega.Expect(rb.Cleanup.Run(ctx)).To(gomega.Succeed())
			}, ginkgo.NodeTimeout(scale.Scaled(rb.Cleanup.Timeout)))
		}
		if nSetup == 0 {
			ginkgo.BeforeAll(bind)
		} else {
			ginkgo.BeforeAll(func(ctx ginkgo.SpecContext) {
				bind()
				for _, st := range rb.Steps[:nSetup] {
					runStep(ctx, rep, st)
				}
			}, ginkgo.NodeTimeout(setupTimeout))
		}
		for i, st := range listed.Steps[nSetup:] {
			ginkgo.It(st.Name, func(ctx ginkgo.SpecContext) {
				runStep(ctx, rep, rb.Steps[nSetup+i])
			}, ginkgo.NodeTimeout(scale.Scaled(st.Timeout)))
		}
	})...)
}

// runStep executes one runbook step inside a spec: a NotApplicable step
// skips with its precise reason (which reaches JUnit's <skipped>); any other
// error fails the spec with what the step observed. The timelines the step
// reported are attached unless it skipped.
func runStep(ctx context.Context, rep *specReporter, st scenarios.Step) {
	ginkgo.GinkgoHelper()
	err := st.Run(ctx)
	var na *scenarios.NotApplicable
	skipped := errors.As(err, &na)
	for _, p := range rep.take() {
		if !skipped {
			attachTimeline(p.tl, p.name)
		}
	}
	if skipped {
		ginkgo.Skip(na.Reason)
	}
	if err != nil {
		ginkgo.Fail(err.Error())
	}
}

// specReporter puts a runbook's outputs into the running spec: log lines in
// its output and as report entries named after the scenario, measurements
// as report entries, timelines as artifacts (plotted in the HTML report).
type specReporter struct {
	scenario string
	mu       sync.Mutex
	pending  []namedTimeline
}

type namedTimeline struct {
	name string
	tl   *timeline.Timeline
}

func (r *specReporter) Logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	ginkgo.GinkgoWriter.Println(line)
	ginkgo.AddReportEntry(r.scenario, line)
}

func (r *specReporter) Measure(name, value string) { ginkgo.AddReportEntry(name, value) }

func (r *specReporter) Timeline(name string, tl *timeline.Timeline) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = append(r.pending, namedTimeline{name, tl})
}

func (r *specReporter) take() []namedTimeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending
	r.pending = nil
	return p
}
