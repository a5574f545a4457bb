package memorypressure

import (
	"context"
	"fmt"

	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodelab/nodelab/lab/instruments/chaos"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios/matchers"
)

// stress injects a memStress of size bytes into the pods with the labels
// and waits until it runs.
func (r *Runbook) stress(ctx context.Context, name string, sel map[string]string, bytes int64) (types.NamespacedName, error) {
	return chaos.InjectMemory(ctx, r.chaos, chaos.MemoryStress{Namespace: r.Namespace, Name: name, Selector: sel,
		Workers: 1, Size: fmt.Sprintf("%dMiB", bytes>>20), Duration: ChaosBound}, r.env.Scaled(Timeouts.ChaosInjected))
}

// waitWorkingSet waits until the pod's working set (summary API) reaches at least min bytes.
func (r *Runbook) waitWorkingSet(ctx context.Context, pod string, atLeast uint64) error {
	var last string
	return wait.Check(func(g gomega.Gomega) {
		g.Eventually(ctx, func(ctx context.Context) (uint64, error) {
			s, err := kubelet.ReadSummary(ctx, r.Lab.Client, r.Node)
			if err != nil {
				return 0, err
			}
			ps := s.Pod(r.Namespace, pod)
			if ps == nil || ps.Memory == nil || ps.Memory.WorkingSetBytes == nil {
				last = "no stats yet"
				return 0, nil
			}
			last = matchers.Bytes(int64(*ps.Memory.WorkingSetBytes))
			return *ps.Memory.WorkingSetBytes, nil
		}).WithTimeout(r.env.Scaled(Timeouts.WorkingSet)).WithPolling(r.t().Poll).Should(gomega.BeNumerically(">=", atLeast),
			func() string { return fmt.Sprintf("working set of %s (last %s)", pod, last) })
	})
}

// rampUp injects the fix's stress in steps, each seen in the summary API's
// pod stats before the next: the over-request pod's OverRequestStress, the
// hog's HogBaseStress, then the rest of HogStress. It returns the
// StressChaos it injected, in order, also when a step fails (a StressChaos
// whose injection failed is left to Cleanup, as before).
func (r *Runbook) rampUp(ctx context.Context, w *watch) ([]types.NamespacedName, error) {
	var keys []types.NamespacedName
	w.mark("inject", fmt.Sprintf("over-request +%d MiB", OverRequestStress>>20))
	overKey, err := r.stress(ctx, "fix-over-request", map[string]string{labelSide: "fix", labelRole: "over-request"}, OverRequestStress)
	if err != nil {
		return keys, err
	}
	keys = append(keys, overKey)
	if err := r.waitWorkingSet(ctx, "fix-over-request", OverRequestStress-8<<20); err != nil {
		return keys, err
	}
	hog := map[string]string{labelSide: "fix", labelRole: "hog"}
	w.mark("inject", fmt.Sprintf("hog +%d MiB", HogBaseStress>>20))
	baseKey, err := r.stress(ctx, "fix-hog-base", hog, HogBaseStress)
	if err != nil {
		return keys, err
	}
	keys = append(keys, baseKey)
	if err := r.waitWorkingSet(ctx, "fix-hog", HogBaseStress-8<<20); err != nil {
		return keys, err
	}
	w.mark("inject", fmt.Sprintf("hog +%d MiB", (HogStress-HogBaseStress)>>20))
	hogKey, err := r.stress(ctx, "fix-hog", hog, HogStress-HogBaseStress)
	if err != nil {
		return keys, err
	}
	return append(keys, hogKey), nil
}

func (r *Runbook) deleteChaos(ctx context.Context, key types.NamespacedName, w *watch) {
	w.mark("recover", "delete "+key.Name)
	// The step deletes its chaos before a failure bundle is collected:
	// keep its last status in the log and the report.
	if st, err := chaos.Status(ctx, r.chaos, key); err == nil {
		r.env.Logf("%s before deletion: %s", key.Name, st)
	}
	if err := chaos.Delete(ctx, r.chaos, key, r.env.Scaled(Timeouts.ChaosDeleted)); err != nil {
		r.env.Logf("delete %s: %v", key, err)
	}
}

// deleteChaosAll deletes StressChaos in the reverse order of their
// injection, the last one first.
func (r *Runbook) deleteChaosAll(ctx context.Context, keys []types.NamespacedName, w *watch) {
	for i := len(keys) - 1; i >= 0; i-- {
		r.deleteChaos(ctx, keys[i], w)
	}
}
