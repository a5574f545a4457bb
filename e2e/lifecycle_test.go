package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
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

// Interrupting `nodelab run` in the middle of a step that changed a node
// must leave the node as it was: the CLI runs the scenario's cleanup and
// leak checks after the signal. Checked here independently of those leak
// checks: every worker's kubelet config byte for byte with no backup left,
// nodes Ready and schedulable as before, the scenario's namespace and any
// cluster-scoped object gone. Runs against the suite's lab through
// --kubeconfig (so attach mode, with consent to change nodes).
var _ = ginkgo.Describe("nodelab run interrupted", Lifecycle, Slow, Disruptive, ginkgo.Serial, func() {
	ginkgo.DescribeTable("cleans up and restores the node",
		func(ctx ginkgo.SpecContext, id string, sig syscall.Signal, during string) {
			if err := theLab.NodeAccess(); err != nil {
				ginkgo.Skip("checks the nodes' kubelet config through node access; measured: " + err.Error())
			}
			cli, err := gexec.Build("github.com/nodelab/nodelab/cmd/nodelab")
			gomega.Expect(err).NotTo(gomega.HaveOccurred())
			ginkgo.DeferCleanup(gexec.CleanupBuildArtifacts)
			before := workerState(ctx)
			bindingsBefore := nodelabBindings(ctx)

			cmd := exec.Command(cli, "run", id, "--kubeconfig", theLab.Kubeconfig, "--allow-node-changes", "--state-dir", ginkgo.GinkgoT().TempDir())
			session, err := gexec.Start(cmd, ginkgo.GinkgoWriter, ginkgo.GinkgoWriter)
			gomega.Expect(err).NotTo(gomega.HaveOccurred())
			// Should the spec fail before its signal, still let the CLI clean
			// up the shared lab (SIGTERM), and kill it only if it hangs.
			ginkgo.DeferCleanup(func() {
				session.Terminate().Wait(10 * time.Minute)
				session.Kill()
			})

			ginkgo.By("waiting for: " + during)
			marker := regexp.MustCompile(`(?m)` + regexp.QuoteMeta(during))
			gomega.Eventually(func() bool {
				return marker.Match(session.Out.Contents()) || session.ExitCode() >= 0
			}).WithTimeout(5*time.Minute).WithPolling(500*time.Millisecond).Should(gomega.BeTrue(), "nodelab run %s reaching %q", id, during)
			if out := string(session.Out.Contents()); !marker.MatchString(out) {
				if m := regexp.MustCompile(`(?m)^SKIP  ` + regexp.QuoteMeta(id) + `.*$`).FindString(out); m != "" {
					ginkgo.Skip("nodelab run skipped before the step to interrupt: " + m)
				}
				ginkgo.Fail(fmt.Sprintf("nodelab run %s exited (code %d) before %q:\n%s", id, session.ExitCode(), during, out))
			}
			ginkgo.By("sending " + sig.String())
			session.Signal(sig)
			gomega.Eventually(session).WithTimeout(10*time.Minute).Should(gexec.Exit(130), "nodelab run exits with 130 after cleaning up")
			gomega.Expect(string(session.Err.Contents())).To(gomega.ContainSubstring("interrupted"))
			out := string(session.Out.Contents())
			gomega.Expect(out).To(gomega.MatchRegexp(`(?m)^PASS  `+regexp.QuoteMeta(id)+` / cleanup`), "the cleanup ran and passed")
			gomega.Expect(out).To(gomega.MatchRegexp(`(?m)^PASS  `+regexp.QuoteMeta(id)+` / leaves`), "the leak checks ran and passed")

			ginkgo.By("checking the workers and the cluster ourselves")
			gomega.Expect(workerState(ctx)).To(gomega.Equal(before), "kubelet config, backup, readiness and schedulability of every worker")
			nss, err := theLab.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			gomega.Expect(err).NotTo(gomega.HaveOccurred())
			for _, ns := range nss.Items {
				gomega.Expect(ns.Name).NotTo(gomega.HavePrefix("nodelab-"+id+"-"), "namespace left by the interrupted run")
			}
			gomega.Expect(nodelabBindings(ctx)).To(gomega.Equal(bindingsBefore), "ClusterRoleBindings made by nodelab (addons installed earlier keep theirs)")
		},
		ginkgo.Entry("SIGINT while oom-events' replicas burst on a retuned kubelet", "oom-events", syscall.SIGINT, "burst: 3 replicas (requests <nil>)", ginkgo.NodeTimeout(20*time.Minute)),
		ginkgo.Entry("SIGTERM while cpu-manager's kubelet refuses to start", "cpu-manager", syscall.SIGTERM, "refuses its checkpoint", ginkgo.NodeTimeout(20*time.Minute)),
	)
})

// nodelabBindings names the ClusterRoleBindings nodelab made (addons'
// and scenarios').
func nodelabBindings(ctx context.Context) []string {
	crbs, err := theLab.Client.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{LabelSelector: manifest.ManagedByLabel + "=" + manifest.ManagedByValue})
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	var names []string
	for _, c := range crbs.Items {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// workerState is what an interrupted run must not change on the workers:
// each one's kubelet config file (and that no backup exists), readiness
// and schedulability.
func workerState(ctx context.Context) map[string]string {
	workers, err := theLab.Workers()
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	state := map[string]string{}
	for _, w := range workers {
		files, err := nodeexec.ReadFiles(ctx, w, kubelet.ConfigPath, kubelet.BackupPath)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		n, err := theLab.Client.CoreV1().Nodes().Get(ctx, w.String(), metav1.GetOptions{})
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		_, backup := files[kubelet.BackupPath]
		sum := sha256.Sum256(files[kubelet.ConfigPath])
		state[w.String()] = fmt.Sprintf("config sha256 %x, backup %t, ready %t, unschedulable %t", sum[:8], backup, lab.NodeReady(n), n.Spec.Unschedulable)
	}
	return state
}
