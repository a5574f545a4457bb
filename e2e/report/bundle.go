package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	// LogLines is how many lines of each container log are asked for
	// (the API's tailLines); FileBytes then keeps the tail of those.
	LogLines int
}

// DefaultBundleLimits keep a bundle under 16 MiB.
var DefaultBundleLimits = BundleLimits{FileBytes: 1 << 20, BundleBytes: 16 << 20, JournalLines: 2000, LogLines: 20000}

// chaosGroupVersion is Chaos Mesh's API; its objects go into the bundle when the CRDs exist.
var chaosGroupVersion = schema.GroupVersion{Group: "chaos-mesh.org", Version: "v1alpha1"}

// bundle writes files under dir within the limits and keeps an index.
type bundle struct {
	dir    string
	limits BundleLimits
	total  int
	files  int
	// full is set when a file did not fit: it and every later file are left out.
	full     string
	index    []string
	errs     []string
	redacted redactions
}

// tailMarker is the first line of a file whose head was cut.
func tailMarker(dropped, limit int) string {
	return fmt.Sprintf("[first %d bytes left out: file cap %d bytes, the tail is kept]\n", dropped, limit)
}

// write stores data, keeping its tail when it is over the file cap.
func (b *bundle) write(name string, data []byte) {
	dropped := 0
	if len(data) > b.limits.FileBytes {
		dropped = len(data) - b.limits.FileBytes
		data = data[dropped:]
	}
	b.writeTail(name, data, dropped)
}

// writeTail stores data (at most the file cap) whose first dropped bytes
// were cut, with a marker line saying so.
func (b *bundle) writeTail(name string, data []byte, dropped int) {
	if dropped > 0 {
		data = append([]byte(tailMarker(dropped, b.limits.FileBytes)), data...)
	}
	if b.full == "" && b.total+len(data) > b.limits.BundleBytes {
		b.full = name
	}
	if b.full != "" {
		b.index = append(b.index, fmt.Sprintf("%-60s LEFT OUT (%d bytes; bundle cap reached)", name, len(data)))
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
	b.files++
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
	// Node conditions first: small, and what a reader looks at first.
	collectNodeConditions(ctx, l, b)
	nsList, err := l.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: manifest.ManagedByLabel + "=" + manifest.ManagedByValue})
	if err != nil {
		b.fail("list nodelab namespaces", err)
	} else {
		for _, ns := range nsList.Items {
			collectNamespace(ctx, l, b, ns.Name)
		}
	}
	collectJournals(ctx, l, b, since)
	return b.finish(since)
}

func (b *bundle) finish(since time.Time) error {
	var idx strings.Builder
	fmt.Fprintf(&idx, "failure bundle, collected %s for a spec that started %s\n", time.Now().UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
	fmt.Fprintf(&idx, "limits: %d bytes per file (logs: the last %d lines, then the tail within the file cap), %d bytes per bundle\n", b.limits.FileBytes, b.limits.LogLines, b.limits.BundleBytes)
	fmt.Fprintf(&idx, "Secrets are never collected; literal env values (env[].value) and kubectl's last-applied-configuration annotations are redacted in every dump: %s\n\n", b.redacted)
	for _, l := range b.index {
		fmt.Fprintln(&idx, l)
	}
	fmt.Fprintf(&idx, "\ntotal: %d bytes in %d files (bundle cap %d bytes)\n", b.total, b.files, b.limits.BundleBytes)
	if b.full != "" {
		fmt.Fprintf(&idx, "bundle cap reached at %s: it and every file after it were left out\n", b.full)
	}
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
		if items, err := b.sanitizedItems(pods, nil); err != nil {
			b.fail("pods in "+ns, err)
		} else {
			b.write(prefix+"pods.yaml", toYAML(items))
		}
		// Logs last: they are the big files, so the bundle cap cuts them
		// rather than the objects and events.
		defer collectLogs(ctx, l, b, prefix, pods.Items)
		defer collectCgroups(ctx, l, b, prefix, pods.Items)
	}
	type lister struct {
		name string
		list func() (any, error)
	}
	listers := []lister{
		{"services", func() (any, error) { return b.sanitizedItems(cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})) }},
		{"configmaps", func() (any, error) {
			return b.sanitizedItems(cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}))
		}},
		{"deployments", func() (any, error) {
			return b.sanitizedItems(cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}))
		}},
		{"statefulsets", func() (any, error) {
			return b.sanitizedItems(cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{}))
		}},
		{"daemonsets", func() (any, error) {
			return b.sanitizedItems(cs.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{}))
		}},
		{"jobs", func() (any, error) { return b.sanitizedItems(cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})) }},
		{"endpointslices", func() (any, error) {
			return b.sanitizedItems(cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{}))
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

// sanitizedItems returns a typed list's Items, through a YAML round trip
// so any list type works, with managedFields removed and what may hold a
// credential redacted (see redact).
func (b *bundle) sanitizedItems(list any, err error) ([]any, error) {
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
			b.redacted.object(obj)
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

// collectLogs keeps the end of every log: the API sends the last LogLines
// lines (tailLines; limitBytes would keep the head) and readTail keeps the
// last FileBytes of those while reading, so memory stays bounded too.
func collectLogs(ctx context.Context, l *lab.Lab, b *bundle, prefix string, pods []corev1.Pod) {
	lines := int64(b.limits.LogLines)
	for _, p := range pods {
		for _, c := range p.Status.ContainerStatuses {
			for _, previous := range []bool{false, true} {
				if previous && c.RestartCount == 0 {
					continue
				}
				opts := &corev1.PodLogOptions{Container: c.Name, Previous: previous}
				if lines > 0 {
					opts.TailLines = &lines
				}
				name := fmt.Sprintf("%slogs/%s_%s", prefix, p.Name, c.Name)
				if previous {
					name += ".previous"
				}
				data, dropped, err := readLogTail(ctx, l, p, opts, b.limits.FileBytes)
				if err != nil {
					b.fail("logs of "+name, err)
					continue
				}
				b.writeTail(name+".log", data, dropped)
			}
		}
	}
}

func readLogTail(ctx context.Context, l *lab.Lab, p corev1.Pod, opts *corev1.PodLogOptions, limit int) ([]byte, int, error) {
	rc, err := l.Client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, opts).Stream(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	return readTail(rc, limit)
}

// readTail reads r to the end and returns its last limit bytes and how
// many bytes before them were dropped. It holds at most 2*limit bytes.
func readTail(r io.Reader, limit int) ([]byte, int, error) {
	var buf bytes.Buffer
	dropped := 0
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if over := buf.Len() - limit; over > 0 && (buf.Len() >= 2*limit || err != nil) {
			dropped += over
			buf.Next(over)
		}
		if err == io.EOF {
			return buf.Bytes(), dropped, nil
		}
		if err != nil {
			return buf.Bytes(), dropped, err
		}
	}
}

// collectCgroups reads the memory cgroup of every running container.
func collectCgroups(ctx context.Context, l *lab.Lab, b *bundle, prefix string, pods []corev1.Pod) {
	if l.NodeAccess() != nil {
		return
	}
	labNodes, err := l.Nodes()
	if err != nil {
		b.fail("nodes for cgroup snapshots", err)
		return
	}
	byName := map[string]nodeexec.Node{}
	for _, n := range labNodes {
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
			b.redacted.object(it.Object)
			all = append(all, it.Object)
		}
	}
	if len(all) > 0 {
		b.write(prefix+"chaos-mesh.yaml", toYAML(all))
	}
}

func collectNodeConditions(ctx context.Context, l *lab.Lab, b *bundle) {
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
}

// collectJournals writes each node's kubelet and containerd journal
// since the spec started (less 10 s), the last JournalLines lines.
func collectJournals(ctx context.Context, l *lab.Lab, b *bundle, since time.Time) {
	if l.NodeAccess() != nil {
		return
	}
	labNodes, err := l.Nodes()
	if err != nil {
		b.fail("nodes for journals", err)
		return
	}
	sinceArg := fmt.Sprintf("@%d", since.Add(-10*time.Second).Unix())
	for _, n := range labNodes {
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
