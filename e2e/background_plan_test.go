package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images"
)

func spec(container string, state types.SpecState, labels ...string) types.SpecReport {
	return types.SpecReport{
		LeafNodeType:             types.NodeTypeIt,
		LeafNodeText:             "it",
		ContainerHierarchyTexts:  []string{container},
		ContainerHierarchyLabels: [][]string{labels},
		State:                    state,
	}
}

func names(imgs []images.Image) string { return strings.ReplaceAll(imageNames(imgs), " ", "") }

func TestPlanImages(t *testing.T) {
	preview := ginkgo.Report{SpecReports: []types.SpecReport{
		spec("ingress-rollout", types.SpecStatePassed, "scenario:ingress-rollout"),
		spec("redis", types.SpecStateSkipped, "scenario:redis-port-forward"), // filtered out
		spec("memory-pressure", types.SpecStatePassed, "scenario:memory-pressure", "slow"),
		spec("memory-pressure", types.SpecStatePassed, "scenario:memory-pressure", "slow"),
		spec("cgroup-accounting", types.SpecStatePassed, "scenario:cgroup-accounting"),
		spec("chaos-mesh addon", types.SpecStatePassed, "addon:chaos-mesh"),
		spec("lab", types.SpecStatePassed, "scenario:lab"),
	}}
	got := names(planImages(preview))
	// Chaos Mesh's two images serve three containers, so they come first;
	// then traefik and echo in spec order; redis is not selected.
	want := "chaos-mesh,chaos-daemon,traefik,echo"
	if got != want {
		t.Fatalf("planImages = %s, want %s", got, want)
	}

	upstream := &lab.Lab{Image: lab.NodeImageChoice{Source: images.SourceUpstream}}
	if got := names(backgroundImagesFor(upstream, planImages(preview))); got != "echo" {
		t.Fatalf("a lab of upstream images builds only the LocalOnly images, got %s", got)
	}
	if got := backgroundImagesFor(&lab.Lab{Attached: true}, planImages(preview)); len(got) != 0 {
		t.Fatalf("an attached cluster gets no background build, got %s", names(got))
	}
	forgeLab := &lab.Lab{Image: lab.NodeImageChoice{Source: images.SourceForge}}
	if got := names(backgroundImagesFor(forgeLab, planImages(preview))); got != want {
		t.Fatalf("a forge lab builds every planned image, got %s", got)
	}
}

func TestHarnessOverhead(t *testing.T) {
	r := ginkgo.Report{SpecReports: []types.SpecReport{
		{LeafNodeType: types.NodeTypeBeforeSuite, RunTime: 2 * time.Second},
		{LeafNodeType: types.NodeTypeIt, State: types.SpecStatePassed, RunTime: 60 * time.Second},
		{LeafNodeType: types.NodeTypeIt, State: types.SpecStateSkipped, RunTime: time.Second},
		{LeafNodeType: types.NodeTypeCleanupAfterSuite, RunTime: time.Second},
	}}
	got := harnessOverhead(r, processStart.Add(64*time.Second))
	want := "harness overhead: 4s above the 1 specs' own 1m0s (process 1m4s: suite setup 2s, cleanup after the suite 1s, the rest 1s)"
	if got != want {
		t.Fatalf("harnessOverhead:\n got %s\nwant %s", got, want)
	}
}
