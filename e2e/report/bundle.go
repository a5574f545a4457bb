package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
)

// BundleLimits bound a failure bundle.
type BundleLimits struct {
	// FileBytes caps each file (logs keep their tail).
	FileBytes int
	// BundleBytes caps the bundle; files past it are listed as left out.
	BundleBytes int
	// JournalLines is how many lines of each node journal are kept.
	JournalLines int
}

// DefaultBundleLimits keep a bundle under 16 MiB.
var DefaultBundleLimits = BundleLimits{FileBytes: 1 << 20, BundleBytes: 16 << 20, JournalLines: 2000}

// chaosGroupVersion is Chaos Mesh's API; its objects go into the bundle when the CRDs exist.
var chaosGroupVersion = schema.GroupVersion{Group: "chaos-mesh.org", Version: "v1alpha1"}

// bundle writes files under dir within the limits and keeps an index.
type bundle struct {
	dir    string
	limits BundleLimits
	total  int
	index  []string
	errs   []string
}

func (b *bundle) write(name string, data []byte) {
	if len(data) > b.limits.FileBytes {
		data = append([]byte(fmt.Sprintf("[first %d bytes left out: file cap %d bytes]\n", len(data)-b.limits.FileBytes, b.limits.FileBytes)),
			data[len(data)-b.limits.FileBytes:]...)
	}
	if b.total+len(data) > b.limits.BundleBytes {
		b.index = append(b.index, fmt.Sprintf("%-60s LEFT OUT (bundle cap %d bytes reached)", name, b.limits.BundleBytes))
		return
	}
	p := filepath.Join(b.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.errs = append(b.errs, err.Error())
		return
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.errs = append(b.errs, err.Error())
		return
	}
	b.total += len(data)
	b.index = append(b.index, fmt.Sprintf("%-60s %10d bytes", name, len(data)))
}

func (b *bundle) fail(what string, err error) {
	b.errs = append(b.errs, fmt.Sprintf("%s: %v", what, err))
}

// CollectBundle gathers what a person needs to understand a failed spec,
// before its namespaces are torn down: for every namespace nodelab created,
// the objects (never Secrets), events in time order, pod logs (current and
// previous) and the memory cgroup of each running container; for every
// node, its conditions and taints and, on a lab with kind nodes, the
// kubelet and containerd journals since the spec started; Chaos Mesh
// objects when its CRDs exist. It writes index.txt last, listing every file
// with its size and whatever could not be collected.
func CollectBundle(ctx context.Context, l *lab.Lab, dir string, since time.Time, limits BundleLimits) error {
	b := &bundle{dir: dir, limits: limits}
	nsList, err := l.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: manifest.ManagedByLabel + "=" + manifest.ManagedByValue})
	if err != nil {
		b.fail("list nodelab namespaces", err)
	} else {
		for _, ns := range nsList.Items {
			collectNamespace(ctx, l, b, ns.Name)
		}
	}
	collectNodes(ctx, l, b, since)
	return b.finish(since)
}

func (b *bundle) finish(since time.Time) error {
	var idx strings.Builder
	fmt.Fprintf(&idx, "failure bundle, collected %s for a spec that started %s\n", time.Now().UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
	fmt.Fprintf(&idx, "limits: %d bytes per file (logs keep their tail), %d bytes per bundle; Secrets are never collected\n\n", b.limits.FileBytes, b.limits.BundleBytes)
	for _, l := range b.index {
		fmt.Fprintln(&idx, l)
	}
	fmt.Fprintf(&idx, "\ntotal: %d bytes\n", b.total)
	if len(b.errs) > 0 {
		fmt.Fprintf(&idx, "\nnot collected:\n  %s\n", strings.Join(b.errs, "\n  "))
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.dir, "index.txt"), []byte(idx.String()), 0o644)
}

// toYAML renders objects without managedFields.
func toYAML(items any) []byte {
	out, err := yaml.Marshal(items)
	if err != nil {
		return []byte("marshal: " + err.Error())
	}
	return out
}

func collectNamespace(ctx context.Context, l *lab.Lab, b *bundle, ns string) {
	cs := l.Client
	prefix := "namespaces/" + ns + "/"
	if pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
		b.fail("pods in "+ns, err)
	} else {
		for i := range pods.Items {
			pods.Items[i].ManagedFields = nil
		}
		b.write(prefix+"pods.yaml", toYAML(pods.Items))
		collectLogs(ctx, l, b, prefix, pods.Items)
		collectCgroups(ctx, l, b, prefix, pods.Items)
	}
	type lister struct {
		name string
		list func() (any, error)
	}
	listers := []lister{
		{"services", func() (any, error) { return stripList(cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})) }},
		{"configmaps", func() (any, error) { return stripList(cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})) }},
		{"deployments", func() (any, error) { return stripList(cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})) }},
		{"statefulsets", func() (any, error) { return stripList(cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})) }},
		{"daemonsets", func() (any, error) { return stripList(cs.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})) }},
		{"jobs", func() (any, error) { return stripList(cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})) }},
		{"endpointslices", func() (any, error) {
			return stripList(cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{}))
		}},
	}
	for _, li := range listers {
		items, err := li.list()
		if err != nil {
			b.fail(li.name+" in "+ns, err)
			continue
		}
		b.write(prefix+li.name+".yaml", toYAML(items))
	}
	if evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err != nil {
		b.fail("events in "+ns, err)
	} else {
		b.write(prefix+"events.txt", []byte(formatEvents(evs.Items)))
	}
	collectChaos(ctx, l, b, prefix, ns)
}

// stripList returns a typed list's Items with managedFields removed, via
// a YAML round trip so any list type works.
func stripList[T any](list T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	raw, err := yaml.Marshal(list)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	items, _ := m["items"].([]any)
	for _, it := range items {
		if obj, ok := it.(map[string]any); ok {
			if md, ok := obj["metadata"].(map[string]any); ok {
				delete(md, "managedFields")
			}
		}
	}
	return items, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}

// formatEvents lists events oldest first, one line each.
func formatEvents(evs []corev1.Event) string {
	sort.SliceStable(evs, func(i, j int) bool { return eventTime(evs[i]).Before(eventTime(evs[j])) })
	var sb strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&sb, "%s  %-7s %-22s %s/%s  %s (x%d)\n", eventTime(e).UTC().Format("15:04:05"), e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, strings.TrimSpace(e.Message), max(e.Count, 1))
	}
	return sb.String()
}

func collectLogs(ctx context.Context, l *lab.Lab, b *bundle, prefix string, pods []corev1.Pod) {
	limit := int64(b.limits.FileBytes)
	for _, p := range pods {
		for _, c := range p.Status.ContainerStatuses {
			for _, previous := range []bool{false, true} {
				if previous && c.RestartCount == 0 {
					continue
				}
				opts := &corev1.PodLogOptions{Container: c.Name, Previous: previous, LimitBytes: &limit}
				data, err := l.Client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, opts).DoRaw(ctx)
				name := fmt.Sprintf("%slogs/%s_%s", prefix, p.Name, c.Name)
				if previous {
					name += ".previous"
				}
				if err != nil {
					b.fail("logs of "+name, err)
					continue
				}
				b.write(name+".log", data)
			}
		}
	}
}

// collectCgroups reads the memory cgroup of every running container.
func collectCgroups(ctx context.Context, l *lab.Lab, b *bundle, prefix string, pods []corev1.Pod) {
	if l.Attached {
		return
	}
	kindNodes, err := l.KindNodes()
	if err != nil {
		b.fail("kind nodes for cgroup snapshots", err)
		return
	}
	byName := map[string]nodeexec.Node{}
	for _, n := range kindNodes {
		byName[n.String()] = n
	}
	var sb strings.Builder
	for _, p := range pods {
		node, ok := byName[p.Spec.NodeName]
		if !ok {
			continue
		}
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Running == nil || c.ContainerID == "" {
				continue
			}
			cg := nodeexec.ContainerCgroup{QOS: p.Status.QOSClass, PodUID: string(p.UID), ContainerID: c.ContainerID}
			dir, v, err := nodeexec.FindContainerCgroup(ctx, node, cg)
			if err != nil {
				fmt.Fprintf(&sb, "%s/%s: %v\n", p.Name, c.Name, err)
				continue
			}
			st, err := nodeexec.ReadMemoryStats(ctx, node, v, dir)
			if err != nil {
				fmt.Fprintf(&sb, "%s/%s (%s): %v\n", p.Name, c.Name, dir, err)
				continue
			}
			fmt.Fprintf(&sb, "%s/%s on %s, cgroup %s %s:\n  %s\n", p.Name, c.Name, p.Spec.NodeName, v, dir, st)
		}
	}
	if sb.Len() > 0 {
		b.write(prefix+"cgroups.txt", []byte(sb.String()))
	}
}

// collectChaos dumps Chaos Mesh objects of the namespace when the API exists.
func collectChaos(ctx context.Context, l *lab.Lab, b *bundle, prefix, ns string) {
	res, err := l.Client.Discovery().ServerResourcesForGroupVersion(chaosGroupVersion.String())
	if err != nil {
		return // no Chaos Mesh in this lab
	}
	dyn, err := dynamicFor(l)
	if err != nil {
		b.fail("dynamic client", err)
		return
	}
	var all []any
	for _, r := range res.APIResources {
		if !r.Namespaced || strings.Contains(r.Name, "/") {
			continue
		}
		list, err := dyn.Resource(chaosGroupVersion.WithResource(r.Name)).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, it := range list.Items {
			it.SetManagedFields(nil)
			all = append(all, it.Object)
		}
	}
	if len(all) > 0 {
		b.write(prefix+"chaos-mesh.yaml", toYAML(all))
	}
}

func collectNodes(ctx context.Context, l *lab.Lab, b *bundle, since time.Time) {
	nodes, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		b.fail("list nodes", err)
		return
	}
	var sb strings.Builder
	for _, n := range nodes.Items {
		fmt.Fprintf(&sb, "%s\n", n.Name)
		for _, c := range n.Status.Conditions {
			fmt.Fprintf(&sb, "  %-20s %-6s %s %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
		for _, t := range n.Spec.Taints {
			fmt.Fprintf(&sb, "  taint %s=%s:%s\n", t.Key, t.Value, t.Effect)
		}
	}
	b.write("nodes.txt", []byte(sb.String()))
	if l.Attached {
		return
	}
	kindNodes, err := l.KindNodes()
	if err != nil {
		b.fail("kind nodes for journals", err)
		return
	}
	sinceArg := fmt.Sprintf("@%d", since.Add(-10*time.Second).Unix())
	for _, n := range kindNodes {
		for _, unit := range []string{"kubelet", "containerd"} {
			out, err := nodeexec.Run(ctx, n, "journalctl", "-u", unit, "--since", sinceArg, "--no-pager", "-o", "short-iso", "-n", fmt.Sprint(b.limits.JournalLines))
			if err != nil {
				b.fail(unit+" journal of "+n.String(), err)
				continue
			}
			b.write(fmt.Sprintf("nodes/%s/%s.journal.txt", n.String(), unit), []byte(out))
		}
	}
}

func dynamicFor(l *lab.Lab) (dynamic.Interface, error) { return dynamic.NewForConfig(l.Config) }
