// Package labsmoke is the runbook of scenario `lab`, the smoke test every lab
// must pass before any other scenario means anything.
//
// Steps, top to bottom:
//  1. every node is Ready;
//  2. two agnhost netexec probes start on two different nodes;
//  3. pod-to-pod HTTP works across the two nodes, both ways;
//  4. CoreDNS answers: a probe resolves the probe Service's FQDN;
//  5. the ClusterIP Service spreads requests over both backends;
//  6. the profile's kubelet settings are what each node's /configz reports
//     (on a cluster nodelab did not create: the eviction settings and
//     feature gates of the config file each kubelet was started with).
//
// There is no pitfall side: this scenario proves the lab itself. Host
// requirements: none beyond a lab (2 workers for step 2). Typical: ~40s.
package labsmoke

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/profile"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:      "lab",
		Summary: "smoke: nodes Ready, pod-to-pod across workers, CoreDNS, ClusterIP spread, kubelet settings in /configz",
		Typical: 40 * time.Second,
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Check, Name: "all nodes are Ready", Timeout: Timeouts.Step, Run: r.NodesReady},
				{Side: scenarios.Check, Name: "probes start on two different nodes", Timeout: Timeouts.Step, Typical: 6 * time.Second, Run: r.DeployProbes},
				{Side: scenarios.Check, Name: "pod-to-pod traffic crosses nodes", Timeout: Timeouts.Traffic, Run: r.PodToPodAcrossNodes},
				{Side: scenarios.Check, Name: "CoreDNS answers", Timeout: Timeouts.Traffic, Run: r.CoreDNSAnswers},
				{Side: scenarios.Check, Name: "a ClusterIP Service spreads requests over both backends", Timeout: Timeouts.Traffic, Run: r.ServiceSpreads},
				{Side: scenarios.Check, Name: "the kubelet settings (the profile's; attached: each kubelet's config file) are in each node's /configz", Timeout: Timeouts.Traffic, Typical: 8 * time.Second, Run: r.KubeletConfigApplied},
			},
			Cleanup: scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env       scenarios.Env
	Lab       *lab.Lab
	Namespace string
	probes    []corev1.Pod
	// noProbes is why DeployProbes skipped (the steps that use the
	// probes skip with it).
	noProbes error
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook { return &Runbook{env: env, Lab: env.Lab} }

// NodesReady checks every node is Ready, and that a lab nodelab created has
// the profile's node count.
func (r *Runbook) NodesReady(ctx context.Context) error {
	want := 1
	if r.Lab.Profile != nil {
		want = r.Lab.Profile.WorkerCount() + 1
	}
	return r.Lab.WaitNodesReady(ctx, want, r.env.T().NodeReady)
}

// DeployProbes creates the namespace and the probe Deployment and Service,
// and waits for two Ready probes on two different nodes.
func (r *Runbook) DeployProbes(ctx context.Context) error {
	if err := r.twoNodesTakePods(ctx); err != nil {
		r.noProbes = err
		return err
	}
	ns, err := r.Lab.CreateNamespace(ctx, "nodelab-lab")
	if err != nil {
		return err
	}
	r.Namespace = ns
	if err := manifest.CreateFile(ctx, r.Lab.Config, fixtures.FS, "lab/probes.yaml", manifest.InNamespace(ns)); err != nil {
		return err
	}
	w := wait.Within{What: "two Ready probes on two nodes", Timeout: r.env.T().PodStart, Poll: r.env.T().Poll}
	return wait.Until(ctx, w, func(g gomega.Gomega) {
		pods, err := r.Lab.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=probe"})
		g.Expect(err).NotTo(gomega.HaveOccurred(), "list the probe pods")
		lab.StopOnImagePullFailure(pods.Items)
		ready, seen := readyProbes(pods.Items)
		g.Expect(ready).To(gomega.HaveLen(2), "Ready probes; last seen: %s", seen)
		g.Expect(ready[0].Spec.NodeName).NotTo(gomega.Equal(ready[1].Spec.NodeName), "the two Ready probes share a node; last seen: %s", seen)
		r.probes = ready
	})
}

// probesMissing is what a step that needs the probes returns without them.
func (r *Runbook) probesMissing() error {
	if r.noProbes != nil {
		return r.noProbes
	}
	return fmt.Errorf("no probes: DeployProbes must pass first")
}

// twoNodesTakePods skips the scenario on a cluster where fewer than two
// nodes take the probes (schedulable, without NoSchedule or NoExecute
// taints): pod-to-pod across nodes cannot be tested there.
func (r *Runbook) twoNodesTakePods(ctx context.Context) error {
	nodes, err := r.Lab.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var take, other []string
	for _, n := range nodes.Items {
		why := ""
		if n.Spec.Unschedulable {
			why = "cordoned"
		}
		for _, t := range n.Spec.Taints {
			if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
				why = "taint " + t.Key + ":" + string(t.Effect)
			}
		}
		if why == "" {
			take = append(take, n.Name)
		} else {
			other = append(other, n.Name+" ("+why+")")
		}
	}
	if len(take) < 2 {
		return scenarios.Skipf("pod-to-pod across nodes needs two nodes that take pods; measured on %s: %d (%s), not: %s",
			r.Lab.Name, len(take), strings.Join(take, ", "), strings.Join(other, ", "))
	}
	return nil
}

// PodToPodAcrossNodes asks each probe to fetch the other's hostname by pod IP.
func (r *Runbook) PodToPodAcrossNodes(ctx context.Context) error {
	if len(r.probes) != 2 {
		return r.probesMissing()
	}
	for i, from := range r.probes {
		to := r.probes[1-i]
		what := fmt.Sprintf("%s (node %s) to reach %s (node %s) by pod IP %s", from.Name, from.Spec.NodeName, to.Name, to.Spec.NodeName, to.Status.PodIP)
		if err := wait.Until(ctx, r.network(what), func(g gomega.Gomega) {
			got, err := r.dial(ctx, from.Name, to.Status.PodIP, "8080", 3)
			g.Expect(err).NotTo(gomega.HaveOccurred())
			g.Expect(got).To(gomega.ContainElement(to.Name), "%s (node %s) → %s (node %s): got %v, want %s", from.Name, from.Spec.NodeName, to.Status.PodIP, to.Spec.NodeName, got, to.Name)
		}); err != nil {
			return err
		}
	}
	return nil
}

// CoreDNSAnswers has a probe reach the Service by its cluster DNS name.
func (r *Runbook) CoreDNSAnswers(ctx context.Context) error {
	if len(r.probes) != 2 {
		return r.probesMissing()
	}
	fqdn := "probe." + r.Namespace + ".svc.cluster.local"
	from := r.probes[0].Name
	return wait.Until(ctx, r.network("CoreDNS to resolve "+fqdn+" for "+from), func(g gomega.Gomega) {
		got, err := r.dial(ctx, from, fqdn, "80", 1)
		g.Expect(err).NotTo(gomega.HaveOccurred(), "resolve and reach %s from %s", fqdn, from)
		g.Expect(got).NotTo(gomega.BeEmpty(), "resolve and reach %s from %s: no response", fqdn, from)
	})
}

// ServiceSpreads sends 20 requests to the Service and expects both backends.
func (r *Runbook) ServiceSpreads(ctx context.Context) error {
	if len(r.probes) != 2 {
		return r.probesMissing()
	}
	fqdn := "probe." + r.Namespace + ".svc.cluster.local"
	return wait.Until(ctx, r.network("requests to "+fqdn+" to reach both backends"), func(g gomega.Gomega) {
		got, err := r.dial(ctx, r.probes[0].Name, fqdn, "80", 20)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		counts := map[string]int{}
		for _, h := range got {
			counts[h]++
		}
		for _, p := range r.probes {
			g.Expect(counts).To(gomega.HaveKey(p.Name), "20 requests to %s reached %v: backend %s never answered", fqdn, counts, p.Name)
		}
	})
}

// KubeletConfigApplied compares each node's /configz with the profile; on
// a cluster nodelab did not create (no profile), with the eviction
// settings and feature gates of the config file each node's kubelet was
// started with (read through node access): a kubelet whose file changed
// without a restart, or whose flags override the file, shows here.
func (r *Runbook) KubeletConfigApplied(ctx context.Context) error {
	if r.Lab.Profile == nil {
		return r.kubeletRunsItsConfigFile(ctx)
	}
	nodes, err := r.Lab.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	k := r.Lab.Profile.Kubelet
	var problems []string
	for _, n := range nodes.Items {
		kc, err := readConfigz(ctx, r.Lab, n.Name)
		if err != nil {
			return err
		}
		problems = append(problems, kc.differences(n.Name, k)...)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("kubelet settings differ from the profile:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// kubeletRunsItsConfigFile compares each node's /configz with its
// kubelet's config file.
func (r *Runbook) kubeletRunsItsConfigFile(ctx context.Context) error {
	if err := r.Lab.NodeAccess(); err != nil {
		return scenarios.Skipf("attached lab: no profile, and the kubelet config files cannot be read without node access; measured on %s: %v", r.Lab.Name, err)
	}
	nodes, err := r.Lab.Nodes()
	if err != nil {
		return err
	}
	var problems []string
	for _, n := range nodes {
		path, b, err := kubelet.ReadConfigFile(ctx, n)
		if errors.Is(err, kubelet.ErrNoConfigFile) {
			return scenarios.Skipf("attached lab without a profile: %v, nothing to compare /configz with", err)
		}
		if err != nil {
			return err
		}
		var file kubeletConfig
		if err := yaml.Unmarshal(b, &file); err != nil {
			return fmt.Errorf("decode %s on %s: %w", path, n, err)
		}
		want := profile.Kubelet{EvictionHard: file.EvictionHard, EvictionSoft: file.EvictionSoft,
			EvictionSoftGracePeriod: file.EvictionSoftGracePeriod, FeatureGates: file.FeatureGates}
		settings := len(want.EvictionHard) + len(want.EvictionSoft) + len(want.EvictionSoftGracePeriod) + len(want.FeatureGates)
		if settings == 0 {
			return scenarios.Skipf("%s on %s sets no eviction threshold or feature gate: nothing to compare /configz with", path, n)
		}
		kc, err := readConfigz(ctx, r.Lab, n.String())
		if err != nil {
			return err
		}
		problems = append(problems, kc.differences(n.String(), want)...)
		r.env.Logf("%s: /configz has the %d eviction settings and feature gates of %s", n, settings, path)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("the kubelets do not run the settings of their config files (changed without a restart, or overridden by flags):\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// Cleanup deletes the namespace this run created.
func (r *Runbook) Cleanup(ctx context.Context) error {
	if r.Namespace == "" {
		return nil
	}
	return r.Lab.DeleteNamespace(ctx, r.Namespace, r.env.T().Cleanup)
}
