package cgroupaccounting

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/nodelab/nodelab/lab/instruments/chaos"
	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// stress injects a StressChaos of size into the app, its stressor at
// oomScoreAdj, and marks it on the timeline.
func (r *Runbook) stress(ctx context.Context, name string, size int64, oomScoreAdj int) (types.NamespacedName, error) {
	r.rec.Mark(time.Now(), "inject", fmt.Sprintf("%s %d MiB", name, size>>20))
	return chaos.InjectMemory(ctx, r.chaos, chaos.MemoryStress{Namespace: r.Namespace, Name: name, Selector: map[string]string{"nodelab.dev/role": "app"},
		Workers: 1, Size: fmt.Sprintf("%dMiB", size>>20), OOMScoreAdj: oomScoreAdj, Duration: ChaosBound}, r.env.Scaled(Timeouts.Inject))
}

// deleteChaos deletes a StressChaos, logging its last status first.
func (r *Runbook) deleteChaos(ctx context.Context, key types.NamespacedName) {
	r.rec.Mark(time.Now(), "recover", "delete "+key.Name)
	// The step deletes its chaos before a failure bundle is collected:
	// keep its last status in the log and the report.
	if st, err := chaos.Status(ctx, r.chaos, key); err == nil {
		r.env.Logf("%s before deletion: %s", key.Name, st)
	}
	if err := chaos.Delete(ctx, r.chaos, key, r.env.Scaled(Timeouts.ChaosDelete)); err != nil {
		r.env.Logf("delete %s: %v", key, err)
	}
}

// withTimeline reports the memory timeline recorded so far after step.
func (r *Runbook) withTimeline(step func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		defer func() { r.env.Timeline("memory", r.Timeline()) }()
		return step(ctx)
	}
}

// Timeline is the app's and the control's memory so far, with the
// injections and OOM kills as markers; nil before Prepare.
func (r *Runbook) Timeline() *timeline.Timeline {
	if r.rec == nil {
		return nil
	}
	return r.rec.Build(timelineBucket, time.Now())
}
