package e2e

import (
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
)

// theAddons says how addons get their images (set in BeforeSuite).
var theAddons addon.Options

// ensureAddons installs the named addons into the lab (idempotent) and
// fails the calling node when one cannot be installed.
func ensureAddons(ctx ginkgo.SpecContext, names ...string) {
	ginkgo.GinkgoHelper()
	gomega.Expect(addon.Ensure(ctx, theLab, theAddons, names...)).To(gomega.Succeed())
}

// ensureImages makes workload images available to the lab's nodes (built
// and loaded on a forge lab, pulled otherwise).
func ensureImages(ctx ginkgo.SpecContext, imgs ...images.Image) {
	ginkgo.GinkgoHelper()
	gomega.Expect(addon.EnsureImages(ctx, theLab, theAddons, imgs...)).To(gomega.Succeed())
}
