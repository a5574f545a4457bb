package ipleak

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/hostlocal"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/noderuntime"
	"github.com/nodelab/nodelab/lab/wait"
)

// lateNames are the pods of late.yaml.
var lateNames = []string{"late-0", "late-1"}

// leak is the runtime upgrade done wrong: the kubelet stopped, the app
// pods' containers deleted straight through containerd, their network
// namespaces deleted, containerd restarted (the CRI plugin forgets them),
// the kubelet started. No CNI DEL runs for any of them.
func (r *Runbook) leak(ctx context.Context) error {
	sandboxes, err := r.runtime.Sandboxes(ctx)
	if err != nil {
		return err
	}
	ids, err := r.runtime.PodContainers(ctx, r.Namespace)
	if err != nil {
		return err
	}
	var netns []string
	for _, sb := range sandboxes {
		if sb.PodNamespace == r.Namespace && sb.NetNS != "" {
			netns = append(netns, path.Base(sb.NetNS))
		}
	}
	r.env.Logf("leak: stop the kubelet on %s; delete %d containers of %s through containerd (no CNI DEL); delete %d network namespaces; restart containerd; start the kubelet", r.Node, len(ids), r.Namespace, len(netns))
	r.kubeletStopped = true
	if _, err := nodeexec.Run(ctx, r.node, "systemctl", "stop", "kubelet"); err != nil {
		return err
	}
	for _, id := range ids {
		if err := r.runtime.RemoveContainer(ctx, id); err != nil {
			return err
		}
	}
	r.leakedNetNS = netns
	for _, ns := range netns {
		if _, err := nodeexec.Run(ctx, r.node, "ip", "netns", "delete", ns); err != nil {
			return err
		}
	}
	_ = r.runtime.Close()
	r.runtime = nil
	if _, err := nodeexec.Run(ctx, r.node, "systemctl", "restart", "containerd"); err != nil {
		return err
	}
	err = wait.Until(ctx, wait.Within{What: "containerd on " + r.Node + " answering after its restart", Timeout: r.env.Scaled(Timeouts.RuntimeBack), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		c, err := noderuntime.Dial(ctx, r.node, "")
		g.Expect(err).NotTo(gomega.HaveOccurred())
		r.runtime = c
	})
	if err != nil {
		return err
	}
	if _, err := nodeexec.Run(ctx, r.node, "systemctl", "start", "kubelet"); err != nil {
		return err
	}
	r.kubeletStopped = false
	return nil
}

// waitNewAddress waits until pod name runs again on an address of the
// window other than old (a new sandbox).
func (r *Runbook) waitNewAddress(ctx context.Context, name string, old netip.Addr) (netip.Addr, error) {
	var ip netip.Addr
	what := fmt.Sprintf("pod %s Running on a new sandbox with an address other than %s", name, old)
	err := wait.Until(ctx, wait.Within{What: what, Timeout: r.t().PodStart, Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(p.Status.Phase).To(gomega.Equal(corev1.PodRunning), "last seen: %s", p.Status.Phase)
		g.Expect(p.Status.PodIP).NotTo(gomega.Or(gomega.BeEmpty(), gomega.Equal(old.String())), "last seen: address %q", p.Status.PodIP)
		got, err := r.inWindow(p)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		ip = got
	})
	return ip, err
}

// inWindow returns the pod's address, or an error when it is not in the
// narrowed window (containerd did not use ConfPath).
func (r *Runbook) inWindow(p *corev1.Pod) (netip.Addr, error) {
	ip, err := netip.ParseAddr(p.Status.PodIP)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("pod %s has no address yet (%q)", p.Name, p.Status.PodIP)
	}
	if !r.window.Contains(ip) {
		return netip.Addr{}, fmt.Errorf("pod %s got %s, outside the window %s: containerd on %s did not use %s", p.Name, ip, r.window, r.Node, ConfPath)
	}
	return ip, nil
}

// orphans reads the window's reservations and returns those no sandbox in
// containerd holds, with all of them.
func (r *Runbook) orphans(ctx context.Context) (orphans, all []hostlocal.Reservation, err error) {
	sandboxes, err := r.runtime.Sandboxes(ctx)
	if err != nil {
		return nil, nil, err
	}
	live := map[string]bool{}
	for _, sb := range sandboxes {
		live[sb.ID] = true
	}
	all, err = hostlocal.Read(ctx, r.node, NetworkName)
	if err != nil {
		return nil, nil, err
	}
	return hostlocal.Orphans(all, live), all, nil
}

// createLate creates the late pods on the worker without waiting for them.
func (r *Runbook) createLate(ctx context.Context) error {
	late, err := manifest.DecodePods(fixtures.FS, "ip-leak/late.yaml")
	if err != nil {
		return err
	}
	_, err = r.Lab.CreatePinnedPods(ctx, r.Namespace, r.Node, images.AgnhostImage, late)
	return err
}

// waitRefused waits until every late pod has a FailedCreatePodSandBox
// event naming the full range; it returns when the first was seen and its
// message.
func (r *Runbook) waitRefused(ctx context.Context) (time.Time, string, error) {
	var first time.Time
	var msg string
	err := wait.Until(ctx, wait.Within{What: "a FailedCreatePodSandBox event saying \"" + noIPMessage + "\" for each late pod", Timeout: r.env.Scaled(Timeouts.Refused), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		for _, name := range lateNames {
			sel := fields.Set{"involvedObject.name": name, "reason": "FailedCreatePodSandBox"}.AsSelector().String()
			evs, err := r.Lab.Client.CoreV1().Events(r.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
			g.Expect(err).NotTo(gomega.HaveOccurred())
			var seen []string
			found := false
			for _, e := range evs.Items {
				seen = append(seen, e.Message)
				if strings.Contains(e.Message, noIPMessage) {
					found = true
					if t := eventTime(e); first.IsZero() || t.Before(first) {
						first, msg = t, e.Message
					}
				}
			}
			g.Expect(found).To(gomega.BeTrue(), "pod %s: FailedCreatePodSandBox events so far: %q", name, seen)
		}
	})
	return first, msg, err
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return time.Now()
}

func addrsOf(res []hostlocal.Reservation) []netip.Addr {
	out := make([]netip.Addr, 0, len(res))
	for _, r := range res {
		out = append(out, r.IP)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

func sortedAddrs(m map[string]netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for _, ip := range m {
		out = append(out, ip)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func addrList(m map[string]netip.Addr) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+"="+m[n].String())
	}
	return strings.Join(parts, " ")
}

func resList(res []hostlocal.Reservation) string {
	parts := make([]string, 0, len(res))
	for _, r := range res {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}
