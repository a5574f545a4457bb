package oomevents

import (
	"regexp"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/manifest"
)

// The burst fixture allocates BurstSize per replica, Replicas times: the
// limits the runbook computes rely on it.
func TestBurstFixtureMatchesTheConstants(t *testing.T) {
	pods, err := manifest.DecodePods(fixtures.FS, "oom-events/burst.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != Replicas {
		t.Fatalf("burst.yaml has %d pods, Replicas is %d", len(pods), Replicas)
	}
	total := regexp.MustCompile(`--mem-total (\S+)`)
	for _, p := range pods {
		c := p.Spec.Containers[0]
		m := total.FindStringSubmatch(c.Command[len(c.Command)-1])
		if m == nil {
			t.Fatalf("pod %s: no --mem-total in %q", p.Name, c.Command)
		}
		if q := resource.MustParse(m[1]); q.Value() != BurstSize {
			t.Errorf("pod %s allocates %s, BurstSize is %d bytes", p.Name, m[1], BurstSize)
		}
		if len(c.Resources.Requests) != 0 || len(c.Resources.Limits) != 0 {
			t.Errorf("pod %s sets resources; the pitfall's replicas are BestEffort and the fix sets requests itself", p.Name)
		}
	}
}
