package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodelab/nodelab/lab/addon/chaosmesh"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/chaos"
	"github.com/nodelab/nodelab/lab/instruments/timeline"
	"github.com/nodelab/nodelab/lab/nodeexec"
)

// The Chaos Mesh addon's own proof: a 64 MiB memStress lands in the target
// container's cgroup, and after the experiment is deleted the memory is
// back and no stressor process is left in the container (the nsexec
// substitute forwarded SIGTERM).
var _ = ginkgo.Describe("chaos-mesh addon", AddonChaosMesh, Slow, ginkgo.Ordered, func() {
	const stressMiB = 64
	var (
		ns        string
		pod       *corev1.Pod
		node      nodeexec.Node
		cgroupDir string
		version   nodeexec.CgroupVersion
		baseline  nodeexec.MemoryStats
		basePIDs  []string
		rec       *timeline.Recorder
	)
	memory := func(ctx context.Context) (nodeexec.MemoryStats, error) {
		return nodeexec.ReadMemoryStats(ctx, node, version, cgroupDir)
	}
	pids := func(ctx context.Context) ([]string, error) {
		b, err := nodeexec.ReadFile(ctx, node, cgroupDir+"/cgroup.procs")
		if err != nil {
			return nil, err
		}
		f := strings.Fields(string(b))
		slices.Sort(f)
		return f, nil
	}

	ginkgo.BeforeAll(func(ctx ginkgo.SpecContext) {
		requireNodeAccess()
		ensureAddons(ctx, chaosmesh.Name)
		var err error
		ns, err = theLab.CreateNamespace(ctx, "nodelab-chaos")
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		ginkgo.DeferCleanup(func(ctx context.Context) {
			gomega.Expect(theLab.DeleteNamespace(ctx, ns, theEnv.T().Cleanup)).To(gomega.Succeed())
		}, ginkgo.NodeTimeout(5*time.Minute))
		gomega.Expect(chaosmesh.AllowNamespace(ctx, theLab, ns)).To(gomega.Succeed())
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "target", Labels: map[string]string{"app": "target"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: images.AgnhostImage, Args: []string{"pause"},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
			}}},
		}
		_, err = theLab.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		gomega.Eventually(ctx, func(ctx context.Context) (*corev1.Pod, error) {
			return theLab.Client.CoreV1().Pods(ns).Get(ctx, "target", metav1.GetOptions{})
		}).WithTimeout(theEnv.T().PodStart).WithPolling(theEnv.T().Poll).Should(
			gomega.HaveField("Status.Phase", corev1.PodRunning))
		pod, err = theLab.Client.CoreV1().Pods(ns).Get(ctx, "target", metav1.GetOptions{})
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		node, err = theLab.Node(pod.Spec.NodeName)
		gomega.Expect(err).NotTo(gomega.HaveOccurred(), "node of the target pod")
		cgroupDir, version, err = nodeexec.FindContainerCgroup(ctx, node, nodeexec.ContainerCgroup{
			QOS: pod.Status.QOSClass, PodUID: string(pod.UID), ContainerID: pod.Status.ContainerStatuses[0].ContainerID})
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		baseline, err = memory(ctx)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		basePIDs, err = pids(ctx)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		ginkgo.GinkgoWriter.Printf("target %s/%s on %s, %s; before: %s; pids %v\n", ns, pod.Name, node, version, baseline, basePIDs)
		rec = timeline.NewRecorder(fmt.Sprintf("target container memory, %d MiB StressChaos", stressMiB), "MiB", time.Now())
	}, ginkgo.NodeTimeout(30*time.Minute))

	ginkgo.It("injects a 64 MiB memStress into the target container's cgroup and removes it cleanly", func(ctx ginkgo.SpecContext) {
		ginkgo.DeferCleanup(func() { attachTimeline(rec.Build(time.Second, time.Now()), "memory") })
		sample := func(ctx context.Context) (uint64, error) {
			m, err := memory(ctx)
			if err != nil {
				return 0, err
			}
			now := time.Now()
			rec.Sample("working_set", now, float64(m.WorkingSet)/(1<<20))
			rec.Sample("usage", now, float64(m.Usage)/(1<<20))
			rec.Sample("limit", now, float64(m.Limit)/(1<<20))
			return m.WorkingSet, nil
		}
		c, err := chaos.Client(theLab)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		key := types.NamespacedName{Namespace: ns, Name: "memory-64mib"}
		sc := chaos.NewMemoryStress(chaos.MemoryStress{Namespace: ns, Name: key.Name, Selector: map[string]string{"app": "target"},
			Workers: 1, Size: fmt.Sprintf("%dMiB", stressMiB)})
		gomega.Expect(chaos.Create(ctx, c, sc)).To(gomega.Succeed())
		rec.Mark(time.Now(), "inject", sc.Name)
		gomega.Expect(chaos.WaitInjected(ctx, c, key, 2*time.Minute)).To(gomega.Succeed())
		want := baseline.WorkingSet + (stressMiB-4)<<20
		gomega.Eventually(ctx, sample).WithTimeout(time.Minute).WithPolling(time.Second).Should(
			gomega.BeNumerically(">=", want), "working set must grow by about %d MiB over %.1f MiB", stressMiB, float64(baseline.WorkingSet)/(1<<20))
		during, err := pids(ctx)
		gomega.Expect(err).NotTo(gomega.HaveOccurred())
		gomega.Expect(len(during)).To(gomega.BeNumerically(">", len(basePIDs)), "stressor processes in the target's cgroup")

		rec.Mark(time.Now(), "recover", "delete "+sc.Name)
		gomega.Expect(chaos.Delete(ctx, c, key, 2*time.Minute)).To(gomega.Succeed())
		gomega.Eventually(ctx, sample).WithTimeout(time.Minute).WithPolling(time.Second).Should(
			gomega.BeNumerically("<=", baseline.WorkingSet+8<<20), "working set back near %.1f MiB", float64(baseline.WorkingSet)/(1<<20))
		gomega.Eventually(ctx, pids).WithTimeout(30*time.Second).WithPolling(time.Second).Should(
			gomega.Equal(basePIDs), "no stressor left in the target's cgroup after recovery")
	}, ginkgo.NodeTimeout(10*time.Minute))
})
