package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/lab/profile"
)

// Interrupting `nodelab up` must leave nothing behind: no node containers,
// no lab record, no kubeconfig. This drives the real CLI and sends it the
// Ctrl-C a user would, once nodes exist and kind is mid-create.
var _ = ginkgo.Describe("nodelab up interrupted", Lifecycle, Slow, Disruptive, ginkgo.Serial, func() {
	ginkgo.It("leaves no containers, record or kubeconfig", func(ctx ginkgo.SpecContext) {
		requireDocker(ctx)
		const name = "nodelab-interrupt"
		cli, err := gexec.Build("github.com/nodelab/nodelab/cmd/nodelab")
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		ginkgo.DeferCleanup(gexec.CleanupBuildArtifacts)

		// Same node image as the suite's lab, one worker, its own state folder.
		dir := ginkgo.GinkgoT().TempDir()
		one := 1
		p := &profile.Profile{APIVersion: profile.APIVersion, Kind: profile.Kind, Name: name, Workers: &one, NodeImage: theLab.Image.Image}
		b, err := yaml.Marshal(p)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		gomega.Expect(os.WriteFile(filepath.Join(dir, "profile.yaml"), b, 0o644)).To(gomega.Succeed())
		state := filepath.Join(dir, "state")

		cmd := exec.Command(cli, "up", "--profile", filepath.Join(dir, "profile.yaml"), "--state-dir", state)
		session, err := gexec.Start(cmd, ginkgo.GinkgoWriter, ginkgo.GinkgoWriter)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		// Whatever happens below, never leave this cluster behind.
		ginkgo.DeferCleanup(func(ctx context.Context) {
			session.Kill()
			_ = exec.CommandContext(ctx, cli, "down", "--name", name, "--state-dir", state).Run()
		}, ginkgo.NodeTimeout(3*time.Minute))

		ginkgo.By("waiting until kind has started the node containers")
		gomega.Eventually(ctx, func() []string { return labContainers(ctx, name) }).
			WithTimeout(3*time.Minute).WithPolling(500*time.Millisecond).
			Should(gomega.HaveLen(2), "node containers of %s", name)

		ginkgo.By("sending SIGINT, as Ctrl-C does")
		session.Signal(syscall.SIGINT)
		gomega.Eventually(session).WithTimeout(4*time.Minute).Should(gexec.Exit(130), "nodelab up exits with 130 after cleaning up")
		gomega.Expect(string(session.Err.Contents())).To(gomega.ContainSubstring("interrupted"))

		ginkgo.By("checking nothing is left")
		gomega.Expect(labContainers(ctx, name)).To(gomega.BeEmpty(), "containers of %s after the interrupt", name)
		gomega.Expect(filepath.Join(state, "labs", name)).NotTo(gomega.BeAnExistingFile(), "lab record and kubeconfig")
	}, ginkgo.NodeTimeout(10*time.Minute))
})

// labContainers lists the docker containers kind made for a cluster.
func labContainers(ctx context.Context, name string) []string {
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster="+name, "--format", "{{.Names}}").Output()
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return strings.Fields(string(out))
}
