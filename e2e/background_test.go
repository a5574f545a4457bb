package e2e

import (
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/builtin"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/scenarios/catalog"
)

// plannedImages are the addon and workload images that the specs selected
// for this run load onto the lab (TestE2E reads them from a preview of the
// run). On a forge lab the suite starts building them in the background as
// soon as it knows the forge is used, so no spec stops for half an hour in
// the middle of the run to compile Chaos Mesh or Traefik.
var plannedImages []images.Image

// planImages lists the images of the specs that will run, those needed by
// the most top-level containers first (Chaos Mesh serves three), then in
// the order the specs come.
func planImages(preview ginkgo.Report) []images.Image {
	users := map[string]map[string]bool{} // image name → top-level containers
	var order []images.Image
	for _, s := range preview.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt || s.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
			continue
		}
		container := s.LeafNodeText
		if len(s.ContainerHierarchyTexts) > 0 {
			container = s.ContainerHierarchyTexts[0]
		}
		for _, img := range imagesForLabels(s.Labels()) {
			if users[img.Name] == nil {
				users[img.Name] = map[string]bool{}
				order = append(order, img)
			}
			users[img.Name][container] = true
		}
	}
	slices.SortStableFunc(order, func(a, b images.Image) int { return len(users[b.Name]) - len(users[a.Name]) })
	return order
}

// imagesForLabels maps a spec's labels to the images it loads: a
// scenario's declared addons and images (scenarios.Info), and an addon
// spec's addon (addon:<name>).
func imagesForLabels(labels []string) []images.Image {
	var addons []string
	var out []images.Image
	for _, l := range labels {
		if id, ok := strings.CutPrefix(l, "scenario:"); ok {
			if s, err := catalog.Get(id); err == nil {
				addons = append(addons, s.Addons...)
				out = append(out, s.Images...)
			}
		}
		if name, ok := strings.CutPrefix(l, "addon:"); ok {
			addons = append(addons, name)
		}
	}
	for _, name := range addons {
		if a, err := addon.Find(builtin.All(), name); err == nil {
			out = append(out, a.Images()...)
		}
	}
	return out
}

// backgroundImagesFor narrows the plan to what the lab will build: every
// planned image on a forge lab; on a lab of upstream images only those no
// registry has (LocalOnly, built on every lab); nothing on an attached
// cluster, which can be loaded with none.
func backgroundImagesFor(l *lab.Lab, planned []images.Image) []images.Image {
	if l.Attached {
		return nil
	}
	if addon.Source(l) == images.SourceForge {
		return planned
	}
	return slices.DeleteFunc(slices.Clone(planned), func(im images.Image) bool { return !im.LocalOnly() })
}

// imageNames is "chaos-mesh, chaos-daemon, traefik" for messages.
func imageNames(imgs []images.Image) string {
	n := make([]string, len(imgs))
	for i, im := range imgs {
		n[i] = im.Name
	}
	return strings.Join(n, ", ")
}
