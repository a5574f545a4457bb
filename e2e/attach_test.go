package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon/multus"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/scenarios/multusnetwork"
)

// Attach mode as a user meets it: a kind cluster nodelab did not create
// (made here with kind's library, as `kind create cluster` would), given to
// the CLI by kubeconfig, (b) with this host's Docker engine hidden, so the
// nodes are reached only through Kubernetes (node agent pods), and (a) with
// it visible (kind node containers). Afterwards the cluster must be exactly
// as nodelab found it: still there, no namespace, node agent, addon or
// kubelet change of nodelab's left, and `nodelab down` refusing it.
//
// The scenarios run are a bounded subset, to keep CI's time: lab (cluster
// smoke), cgroup-accounting (node cgroup files, Chaos Mesh installed and
// removed again) and, in (b), memory-pressure (kubelet config rewrite and
// restart through an agent, with consent, restored and verified) and
// multus-network (Multus installed with --install-addons, removed again
// with its files on every node).
var _ = ginkgo.Describe("attach: a kind cluster nodelab did not create", Attach, Slow, Disruptive, ginkgo.Serial, ginkgo.Ordered, func() {
	const name = "nodelab-attach"
	var (
		cli, kubeconfig string
		provider        *cluster.Provider
		client          kubernetes.Interface
		src             images.Source
		kubeletBefore   map[string]string
	)

	ginkgo.BeforeAll(func(ctx ginkgo.SpecContext) {
		requireDocker(ctx)
		if theLab.Attached {
			ginkgo.Skip("makes its cluster from the suite lab's node image; this run is attached to " + theLab.Kubeconfig + " (no node image of nodelab's)")
		}
		src = theLab.Image.Source
		var err error
		cli, err = gexec.Build("github.com/nodelab/nodelab/cmd/nodelab")
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		ginkgo.DeferCleanup(gexec.CleanupBuildArtifacts)

		ginkgo.By("creating a 3-node cluster with kind's library, not nodelab's lab code")
		kubeconfig = filepath.Join(ginkgo.GinkgoT().TempDir(), "kubeconfig")
		provider = cluster.NewProvider(cluster.ProviderWithDocker())
		ginkgo.DeferCleanup(func(context.Context) error {
			// kind's Delete takes no context; it is bounded by docker rm.
			return provider.Delete(name, kubeconfig)
		}, ginkgo.NodeTimeout(3*time.Minute))
		cfg := &v1alpha4.Cluster{
			TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
			// As a user on a cgroup v1 host must (Kubernetes ≥ 1.35); no
			// effect on cgroup v2.
			KubeadmConfigPatches: []string{"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailCgroupV1: false\n"},
			Nodes:                []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}, {Role: v1alpha4.WorkerRole}, {Role: v1alpha4.WorkerRole}},
		}
		start := time.Now()
		gomega.Expect(provider.Create(name, cluster.CreateWithV1Alpha4Config(cfg), cluster.CreateWithNodeImage(theLab.Image.Image),
			cluster.CreateWithKubeconfigPath(kubeconfig), cluster.CreateWithWaitForReady(3*time.Minute))).To(gomega.Succeed())
		ginkgo.AddReportEntry("cluster created", fmt.Sprintf("%s from %s in %s", name, theLab.Image.Image, time.Since(start).Round(time.Second)))
		rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		client, err = kubernetes.NewForConfig(rc)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())

		if src == images.SourceForge {
			ginkgo.By("preloading the images, as a registry the cluster pulls from would serve them")
			// The workload images come with the forge node image; the
			// addons' and scenarios' are built on demand.
			scenarioImages := imagesForLabels([]string{"scenario:lab", "scenario:cgroup-accounting", "scenario:memory-pressure", "scenario:multus-network", "scenario:imagefs-stats", "scenario:ip-leak"})
			gomega.Expect(theAddons.Builder.BuildImages(ctx, scenarioImages...)).To(gomega.Succeed())
			imgs := append(images.Workloads(), scenarioImages...)
			kn, err := provider.ListNodes(name)
			gomega.Expect(err).NotTo(gomega.HaveOccurred())
			start = time.Now()
			for _, ref := range uniqueRefs(imgs, src) {
				for _, n := range kn {
					gomega.Expect(lab.LoadImageInto(ctx, n, ref)).To(gomega.Succeed(), "load %s into %s", ref, n)
				}
			}
			ginkgo.AddReportEntry("images preloaded", fmt.Sprintf("%d images into %d nodes in %s", len(uniqueRefs(imgs, src)), len(kn), time.Since(start).Round(time.Second)))
		}
		kubeletBefore = kubeletConfigs(provider, name)
	}, ginkgo.NodeTimeout(20*time.Minute))

	ginkgo.It("runs through node agents with Docker hidden, changes nodes only with consent, and restores them", func(ctx ginkgo.SpecContext) {
		out := runAttached(ctx, cli, kubeconfig, []string{"DOCKER_HOST=unix:///nonexistent/nodelab-attach-spec.sock"},
			"--allow-node-changes", "--install-addons", "--images", string(src), "lab", "cgroup-accounting", "memory-pressure", "multus-network", "imagefs-stats")
		gomega.Expect(out.stderr).To(gomega.ContainSubstring("node access: node agent pods in namespace nodelab-node-agent-"))
		// imagefs-stats' check reads every node's containerd with the
		// containerd client through the agents' exec streams; its pitfall
		// and fix stop a kubelet, so they skip here with that reason.
		expectScenariosRan(out, "lab", "cgroup-accounting", "memory-pressure", "multus-network", "imagefs-stats")
		gomega.Expect(out.stderr).To(gomega.ContainSubstring("Removing addon multus, which nodelab installed"))
		expectLeftAsFound(ctx, client, kubeconfig, provider, name, kubeletBefore)
	}, ginkgo.NodeTimeout(20*time.Minute))

	ginkgo.It("runs through the kind node containers when Docker is visible, whoever made the cluster", func(ctx ginkgo.SpecContext) {
		out := runAttached(ctx, cli, kubeconfig, nil, "--allow-node-changes", "lab", "cgroup-accounting", "ip-leak")
		gomega.Expect(out.stderr).To(gomega.ContainSubstring("node access: kind node containers of cluster " + name))
		expectScenariosRan(out, "lab", "cgroup-accounting", "ip-leak")
		expectLeftAsFound(ctx, client, kubeconfig, provider, name, kubeletBefore)
	}, ginkgo.NodeTimeout(10*time.Minute))

	ginkgo.It("is refused by nodelab down", func(ctx ginkgo.SpecContext) {
		cmd := exec.CommandContext(ctx, cli, "down", "--name", name)
		session, err := gexec.Start(cmd, ginkgo.GinkgoWriter, ginkgo.GinkgoWriter)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		gomega.Eventually(session).WithTimeout(time.Minute).Should(gexec.Exit())
		gomega.Expect(session.ExitCode()).NotTo(gomega.Equal(0), "nodelab down of a cluster it did not create")
		gomega.Expect(string(session.Err.Contents())).To(gomega.ContainSubstring("has no nodelab record, so nodelab will not delete it"))
		gomega.Expect(clusterNodes(provider, name)).To(gomega.HaveLen(3), "the cluster's node containers after nodelab down")
	}, ginkgo.NodeTimeout(2*time.Minute))
})

// cliOutput is what one CLI run printed.
type cliOutput struct{ stdout, stderr string }

// runAttached runs `nodelab run --kubeconfig K args...` with extra
// environment and expects it to succeed.
func runAttached(ctx context.Context, cli, kubeconfig string, env []string, args ...string) cliOutput {
	ginkgo.GinkgoHelper()
	cmd := exec.CommandContext(ctx, cli, append([]string{"run", "--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	session, err := gexec.Start(cmd, ginkgo.GinkgoWriter, ginkgo.GinkgoWriter)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	gomega.Eventually(session).WithTimeout(18 * time.Minute).Should(gexec.Exit())
	out := cliOutput{stdout: string(session.Out.Contents()), stderr: string(session.Err.Contents())}
	gomega.Expect(session.ExitCode()).To(gomega.Equal(0), "nodelab run %s exited %d:\n%s", strings.Join(args, " "), session.ExitCode(), out.stdout)
	return out
}

// expectScenariosRan checks each scenario ran (no scenario-level skip),
// with passing steps and no failure; step skips are reported, with their
// reasons, in the spec's report.
func expectScenariosRan(out cliOutput, ids ...string) {
	ginkgo.GinkgoHelper()
	passed := map[string]int{}
	var skipped []string
	for _, line := range strings.Split(out.stdout, "\n") {
		verdict, rest, ok := strings.Cut(line, "  ")
		if !ok || (verdict != "PASS" && verdict != "FAIL" && verdict != "SKIP") {
			continue
		}
		id, _, _ := strings.Cut(rest, " ")
		switch {
		case verdict == "FAIL":
			ginkgo.Fail("step failed: " + line)
		case verdict == "SKIP" && strings.HasSuffix(id, ":"):
			ginkgo.Fail("scenario skipped as a whole: " + line)
		case verdict == "SKIP":
			skipped = append(skipped, line)
		default:
			passed[id]++
		}
	}
	for _, id := range ids {
		gomega.Expect(passed[id]).To(gomega.BeNumerically(">", 0), "passing steps of %s", id)
	}
	ginkgo.AddReportEntry("steps", fmt.Sprintf("passed %v; skipped %d: %s", passed, len(skipped), strings.Join(skipped, "; ")))
}

// expectLeftAsFound checks, by reading the cluster, that nothing of
// nodelab's is left in it: no namespace it made (node agents, scenarios,
// Chaos Mesh), no node agent pod, no Chaos Mesh CRD, the kubelet config of
// every node byte for byte as before, and every node Ready.
func expectLeftAsFound(ctx context.Context, client kubernetes.Interface, kubeconfig string, provider *cluster.Provider, name string, kubeletBefore map[string]string) {
	ginkgo.GinkgoHelper()
	nss, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	var ours []string
	for _, ns := range nss.Items {
		if ns.Labels[manifest.ManagedByLabel] == manifest.ManagedByValue || strings.HasPrefix(ns.Name, "nodelab-") || ns.Name == "chaos-mesh" {
			ours = append(ours, ns.Name+" ("+string(ns.Status.Phase)+")")
		}
	}
	gomega.Expect(ours).To(gomega.BeEmpty(), "namespaces of nodelab's left in %s", name)
	agents, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: lab.NodeAgentPodLabel})
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	gomega.Expect(agents.Items).To(gomega.BeEmpty(), "node agent pods left")

	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	dyn, err := dynamic.NewForConfig(rc)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	crds, err := dyn.Resource(manifest.CRDResource).List(ctx, metav1.ListOptions{})
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	var chaosCRDs []string
	for _, c := range crds.Items {
		if strings.HasSuffix(c.GetName(), ".chaos-mesh.org") || strings.HasSuffix(c.GetName(), ".k8s.cni.cncf.io") {
			chaosCRDs = append(chaosCRDs, c.GetName())
		}
	}
	gomega.Expect(chaosCRDs).To(gomega.BeEmpty(), "Chaos Mesh or NetworkAttachmentDefinition CRDs left")

	gomega.Expect(kubeletConfigs(provider, name)).To(gomega.Equal(kubeletBefore), "kubelet config of every node, byte for byte")
	for _, n := range clusterNodes(provider, name) {
		gomega.Expect(n.Command("test", "!", "-e", kubelet.BackupPath).Run()).To(gomega.Succeed(), "no kubelet config backup left on %s (%s)", n, kubelet.BackupPath)
		for _, p := range multus.NodePaths {
			gomega.Expect(n.Command("test", "!", "-e", p).Run()).To(gomega.Succeed(), "no Multus file left on %s (%s)", n, p)
		}
		gomega.Expect(n.Command("ip", "link", "show", multusnetwork.Bridge).Run()).NotTo(gomega.Succeed(), "bridge %s left on %s", multusnetwork.Bridge, n)
	}
	gomega.Eventually(ctx, func(ctx context.Context) ([]string, error) {
		list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var notReady []string
		for _, n := range list.Items {
			if !lab.NodeReady(&n) || len(list.Items) != 3 {
				notReady = append(notReady, n.Name)
			}
		}
		return notReady, nil
	}).WithTimeout(2*time.Minute).WithPolling(2*time.Second).Should(gomega.BeEmpty(), "nodes not Ready")
}

// kubeletConfigs reads /var/lib/kubelet/config.yaml of every node through
// kind's library (docker exec), independently of nodelab's node access.
func kubeletConfigs(provider *cluster.Provider, name string) map[string]string {
	ginkgo.GinkgoHelper()
	out := map[string]string{}
	for _, n := range clusterNodes(provider, name) {
		var b bytes.Buffer
		gomega.Expect(n.Command("cat", "/var/lib/kubelet/config.yaml").SetStdout(&b).Run()).To(gomega.Succeed(), "read the kubelet config of %s", n)
		out[n.String()] = b.String()
	}
	gomega.Expect(out).NotTo(gomega.BeEmpty())
	return out
}

// clusterNodes lists the cluster's node containers.
func clusterNodes(provider *cluster.Provider, name string) []nodes.Node {
	ginkgo.GinkgoHelper()
	kn, err := provider.ListNodes(name)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return kn
}

// uniqueRefs lists the images' references for src, once each.
func uniqueRefs(imgs []images.Image, src images.Source) []string {
	var refs []string
	for _, im := range imgs {
		if r := im.Ref(src); !slices.Contains(refs, r) {
			refs = append(refs, r)
		}
	}
	return refs
}
