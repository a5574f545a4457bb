// Package e2e is nodelab's ginkgo v2 suite. BeforeSuite creates a lab from a
// profile (or attaches to -nodelab.kubeconfig / NODELAB_KUBECONFIG) and the
// lab is deleted after the suite only if this run created it. Scenarios are
// selected by label: `make e2e LABELS=scenario:lab`.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/e2e/report"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/addon/builtin"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/images/forge"
	"github.com/nodelab/nodelab/lab/profile"
	"github.com/nodelab/nodelab/lab/progress"
	"github.com/nodelab/nodelab/scenarios"
	"github.com/nodelab/nodelab/scenarios/catalog"
)

var (
	flagKubeconfig    = flag.String("nodelab.kubeconfig", os.Getenv("NODELAB_KUBECONFIG"), "attach to this cluster instead of creating a lab (never deleted); default $NODELAB_KUBECONFIG")
	flagProfile       = flag.String("nodelab.profile", os.Getenv("NODELAB_PROFILE"), "profile file or built-in profile name (multus) for the lab (default: the embedded default profile)")
	flagRetain        = flag.Bool("nodelab.retain", os.Getenv("NODELAB_RETAIN") == "1", "keep the lab after the suite (and after a failed create)")
	flagTimeoutScale  = flag.Float64("nodelab.timeout-scale", 0, "multiply every timeout (slow hosts); default $NODELAB_TIMEOUT_SCALE or 1")
	flagInstallAddons = flag.Bool("nodelab.install-addons", os.Getenv("NODELAB_INSTALL_ADDONS") == "1", "let scenarios install addons that write on the nodes (Multus) on a cluster nodelab did not create, removed again after the suite; default $NODELAB_INSTALL_ADDONS=1")
	flagAllowChanges  = flag.Bool("nodelab.allow-node-changes", os.Getenv("NODELAB_ALLOW_NODE_CHANGES") == "1", "let scenarios that change nodes (kubelet config and restart, memory pressure) run on a cluster nodelab did not create; default $NODELAB_ALLOW_NODE_CHANGES=1")
	flagNodeAgent     = flag.Bool("nodelab.node-agent", os.Getenv("NODELAB_NODE_AGENT") != "0", "on an attached cluster whose nodes are not kind containers on this host, reach the nodes through privileged node agent pods (deleted after the suite); default on, NODELAB_NODE_AGENT=0 turns it off")
	flagAgentImage    = flag.String("nodelab.node-agent-image", os.Getenv("NODELAB_NODE_AGENT_IMAGE"), "image of the node agents (needs nsenter; default the e2e image agnhost); default $NODELAB_NODE_AGENT_IMAGE")
	flagImages        = flag.String("nodelab.images", os.Getenv("NODELAB_IMAGES"), "on an attached cluster reached without Docker: forge when its nodes hold nodelab's forge images (preloaded or mirrored under the same names), upstream (default) when it pulls; default $NODELAB_IMAGES")
	flagArtifacts     = flag.String("nodelab.artifacts", artifactsDefault(), "where JUnit and reports go; default $ARTIFACTS or _artifacts")
)

func artifactsDefault() string {
	if a := os.Getenv("ARTIFACTS"); a != "" {
		return a
	}
	return filepath.Join("..", "_artifacts")
}

// theLab is the lab every spec runs against.
var theLab *lab.Lab

func TestE2E(t *testing.T) {
	gomega.RegisterFailHandler(ginkgo.Fail)
	scale := *flagTimeoutScale
	if scale == 0 {
		var err error
		if scale, err = scenarios.ScaleFromEnv(); err != nil {
			t.Fatal(err)
		}
	}
	if scale < 0 {
		t.Fatalf("-nodelab.timeout-scale=%v: want a positive number (2 doubles every timeout)", scale)
	}
	theEnv.Scale = scale
	theEnv.AllowNodeChanges = *flagAllowChanges
	describeScenarios(catalog.All(), scale)
	plannedImages = planImages(ginkgo.PreviewSpecs("nodelab e2e"))
	ginkgo.RunSpecs(t, "nodelab e2e")
}

// background builds the planned images beside the lab and the specs.
var background forge.BackgroundSet

var _ = ginkgo.BeforeSuite(func(ctx ginkgo.SpecContext) {
	f, err := forge.New(forge.Options{Progress: progress.New(ginkgo.GinkgoWriter)})
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	theAddons = addon.Options{Builder: f, Progress: progress.New(ginkgo.GinkgoWriter), Known: builtin.All(), InstallAddons: *flagInstallAddons}
	theEnv.Addons = theAddons
	if len(plannedImages) > 0 {
		ginkgo.GinkgoWriter.Printf("The selected specs load these images besides the node image's: %s\n", imageNames(plannedImages))
	}
	// Runs last: after the lab is deleted, a build still running is
	// stopped (finished steps stay cached for the next run).
	ginkgo.DeferCleanup(func(ctx context.Context) {
		gomega.Expect(background.Stop(ctx)).To(gomega.Succeed())
	}, ginkgo.NodeTimeout(time.Minute))
	if *flagKubeconfig != "" {
		src, err := attachedImages(*flagImages)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		l, err := lab.AttachWith(ctx, lab.AttachOptions{
			Kubeconfig: *flagKubeconfig,
			NodeAgent:  lab.NodeAgentOptions{Enabled: *flagNodeAgent, Image: *flagAgentImage},
			Images:     src,
		})
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		theLab = l
		theEnv.Lab = l
		// The addons nodelab installed and then the node agents go after
		// everything else (cleanups run last-in first-out), verified gone.
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(l.Close(ctx)).To(gomega.Succeed())
		}, ginkgo.NodeTimeout(10*time.Minute))
		ginkgo.GinkgoWriter.Printf("Attached to %s; node access: %s\n", l.Name, nodeAccessText(l))
		// A kind cluster on this host that runs the forge node image cannot
		// pull: its workload images are loaded as on a lab nodelab made.
		gomega.Expect(l.LoadWorkloads(ctx, progress.New(ginkgo.GinkgoWriter))).To(gomega.Succeed())
	} else {
		p, err := loadProfile(*flagProfile)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		l, err := lab.Up(ctx, lab.UpOptions{
			Profile: p,
			Retain:  *flagRetain,
			// The node image has to be forged: the addon images the
			// selected specs need start building beside it (their module
			// downloads overlap it; their compiles take the CPU it leaves).
			Forge: forge.NodeImageSource{Forge: f, BeforeBuild: func() {
				background.Start(f, plannedImages)
			}},
			ReadyTimeout: theEnv.T().NodeReady,
			Progress:     progress.New(ginkgo.GinkgoWriter),
		})
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		theLab = l
		theEnv.Lab = l
		background.Start(f, backgroundImagesFor(l, plannedImages))
		if l.Created && !*flagRetain {
			ginkgo.DeferCleanup(func(ctx context.Context) {
				gomega.Expect(lab.Down(ctx, l.Name, lab.DownOptions{})).To(gomega.Succeed())
			}, ginkgo.NodeTimeout(3*time.Minute))
		}
		// Runs before the deletion above (cleanups run last-in first-out).
		ginkgo.DeferCleanup(exportLogsIfFailed, ginkgo.NodeTimeout(5*time.Minute))
		// The profile's addons; scenarios ensure the ones they need themselves.
		gomega.Expect(addon.Ensure(ctx, l, theAddons, p.Addons...)).To(gomega.Succeed())
	}
	recordLabFacts(ctx, theLab)
}, ginkgo.NodeTimeout(75*time.Minute))

// nodeAccessText says how the lab's nodes are reached, as measured.
func nodeAccessText(l *lab.Lab) string {
	text := l.NodeAccessText()
	if l.Image.Image != "" {
		text += "; node image " + l.Image.Image + " (" + string(l.Image.Source) + ")"
	}
	return text
}

// attachedImages reads -nodelab.images.
func attachedImages(v string) (images.Source, error) {
	switch s := images.Source(v); s {
	case "", images.SourceUpstream, images.SourceForge:
		return s, nil
	}
	return "", fmt.Errorf("-nodelab.images=%q: want forge (the cluster's nodes hold nodelab's forge images) or upstream (it pulls)", v)
}

func loadProfile(path string) (*profile.Profile, error) {
	if path == "" {
		return profile.Default(), nil
	}
	return profile.LoadBuiltinOrFile(path)
}

// recordLabFacts puts what the lab is into the report: every reader of a
// JUnit file should know what it ran on.
func recordLabFacts(ctx context.Context, l *lab.Lab) {
	facts := map[string]string{"lab": l.Name, "attached": fmt.Sprint(l.Attached), "nodeAccess": nodeAccessText(l)}
	if v, err := l.Client.Discovery().ServerVersion(); err == nil {
		facts["kubernetes"] = v.GitVersion
	}
	if l.Image.Image != "" {
		facts["nodeImage"] = l.Image.Image
		facts["imageSource"] = string(l.Image.Source)
		facts["imageReason"] = l.Image.Reason
	}
	if nodes, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil && len(nodes.Items) > 0 {
		ni := nodes.Items[0].Status.NodeInfo
		facts["kernel"] = ni.KernelVersion
		facts["containerRuntime"] = ni.ContainerRuntimeVersion
		facts["osImage"] = ni.OSImage
	}
	if !l.Attached {
		if v, err := lab.HostCgroupVersion(ctx); err == nil {
			facts["cgroupVersion"] = fmt.Sprint(v)
		}
	}
	for k, v := range facts {
		ginkgo.AddReportEntry("lab."+k, v)
	}
}

var _ = ginkgo.ReportAfterSuite("labels and JUnit", func(r ginkgo.Report) {
	if bad := unregistered(r); len(bad) > 0 {
		ginkgo.Fail(fmt.Sprintf("unregistered labels (add them to e2e/labels.go with their meaning; known: %s):\n%s", registeredLabels(), strings.Join(bad, "\n")))
	}
	if r.SuiteConfig.DryRun {
		return
	}
	path := filepath.Join(*flagArtifacts, "junit_e2e.xml")
	gomega.Expect(report.WriteJUnit(r, path, *flagArtifacts)).To(gomega.Succeed())
	fmt.Fprintf(os.Stderr, "JUnit report: %s\n", path)
	html, err := report.WriteHTML(r, *flagArtifacts)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	fmt.Fprintf(os.Stderr, "HTML report: %s\n", html)
	fmt.Fprintln(os.Stderr, harnessOverhead(r, time.Now()))
})
