package e2e

import (
	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/nodelab/nodelab/lab/addon"
)

// theAddons says how addons get their images (set in BeforeSuite).
var theAddons addon.Options

// ensureAddons installs the named addons into the lab (idempotent) and
// fails the calling node when one cannot be installed.
func ensureAddons(ctx ginkgo.SpecContext, names ...string) {
	ginkgo.GinkgoHelper()
	gomega.Expect(addon.Ensure(ctx, theLab, theAddons, names...)).To(gomega.Succeed())
}
