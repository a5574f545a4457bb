package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/wait"
)

// StressorProcesses are the process names chaos-daemon starts for a
// StressChaos (memStress for memory, stress-ng for CPU) and the nsexec
// that holds them in the target's namespaces.
var StressorProcesses = []string{"memStress", "stress-ng", "nsexec"}

// DeleteAll deletes every StressChaos in namespace and waits until each is
// gone (recovered).
func DeleteAll(ctx context.Context, c client.Client, namespace string, timeout time.Duration) error {
	var list v1alpha1.StressChaosList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("list StressChaos in %s: %w", namespace, err)
	}
	var errs []error
	for _, sc := range list.Items {
		errs = append(errs, Delete(ctx, c, types.NamespacedName{Namespace: sc.Namespace, Name: sc.Name}, timeout))
	}
	return errors.Join(errs...)
}

// Stressors lists the stressor processes running on each node of the lab
// ("node: pid name"), from the node's own pid namespace, which sees every
// container's processes.
func Stressors(ctx context.Context, l *lab.Lab) ([]string, error) {
	kn, err := l.Nodes()
	if err != nil {
		return nil, err
	}
	var found []string
	for _, n := range kn {
		out, err := nodeexec.Run(ctx, n, "ps", "-e", "-o", "pid=,comm=")
		if err != nil {
			return nil, fmt.Errorf("list processes on %s: %w", n, err)
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			for _, name := range StressorProcesses {
				if f[1] == name {
					found = append(found, fmt.Sprintf("%s: pid %s %s", n, f[0], f[1]))
				}
			}
		}
	}
	return found, nil
}

// CheckNoStressors waits up to timeout until no stressor process runs on
// any node, and otherwise says which are left.
func CheckNoStressors(ctx context.Context, l *lab.Lab, timeout time.Duration) error {
	var left []string
	err := wait.Until(ctx, wait.Within{What: "no stressor process on any node", Timeout: timeout, Poll: stressorsPoll}, func(g gomega.Gomega) {
		var err error
		left, err = Stressors(ctx, l)
		if err != nil {
			gomega.StopTrying("list stressor processes on the nodes").Wrap(err).Now()
		}
		g.Expect(left).To(gomega.BeEmpty(), "stressor processes still running")
	})
	if err != nil && len(left) > 0 {
		return fmt.Errorf("stressor processes still running %s after their chaos ended: %s", timeout, strings.Join(left, "; "))
	}
	return err
}
