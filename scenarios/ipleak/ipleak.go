// Package ipleak is the runbook of scenario `ip-leak`: pod sandboxes that
// disappear without a CNI DEL keep their addresses reserved by host-local
// IPAM until the node's range is exhausted and new pods stay Pending.
//
// Seed: Kubernetes 1.18, kubenet, 125 pods per node on a /25: after a
// container-runtime upgrade done wrong, pods stayed Pending because no IP
// could be allocated. host-local (what flannel and kindnet use) frees an
// address only on CNI DEL; the runtime sends one when the kubelet stops a
// sandbox it knows. A runtime that comes back without its sandboxes never
// sends it.
//
// Steps, top to bottom:
//  1. prepare (setup): pick a worker; read its podCIDR and the CNI
//     configuration containerd uses; narrow the worker's pod network to
//     RangeSize addresses of its own podCIDR (ConfPath: ptp + host-local,
//     network NetworkName, sorted before the pod network's file, so new
//     sandboxes use it and the pod network's reservations are untouched);
//     say whether the CNI plugins support the GC verb (CNI 1.1).
//  2. pitfall: four app pods get addresses from the window, and every
//     reservation is held by a live sandbox (the control: nothing to
//     collect). Then the runtime upgrade done wrong, exactly: the kubelet
//     is stopped; every container of the four pods, sandbox and app, is
//     killed and deleted straight through containerd (the containerd
//     client, not CRI: no CNI DEL); their network namespaces are deleted
//     (what a reboot does to /run); containerd is restarted, so the CRI
//     plugin forgets them; the kubelet is started. The kubelet finds its
//     pods without sandboxes and makes new ones: four new addresses. The
//     four old ones stay reserved by sandboxes containerd no longer has
//     (listed by address and sandbox ID), the window is full, and two late
//     pods stay Pending with the CNI's "no IP addresses available in range
//     set" in their FailedCreatePodSandBox events.
//  3. fix: a minimal reconciler (lab/instruments/hostlocal): reservations
//     whose container ID is not a sandbox containerd holds are released
//     under host-local's lock. Exactly the four leaked addresses go; the
//     late pods start on them within the kubelet's retry back-off; the app
//     pods keep their addresses, and each of their reservations still
//     names their live sandbox. (The CNI GC verb would do this from the
//     runtime's side; Debian's plugins and containerd 1.6 on forge nodes
//     predate it, which prepare measures and reports.)
//  4. nothing left: the pods deleted (their CNI DEL frees the window), the
//     configuration and the reservation folder removed, no leaked network
//     namespace.
//
// Host requirements: the worker's node container through this host's Docker
// engine (the kubelet is stopped during the leak, and node agent pods are
// reached through the kubelet); containerd with socat on the node.
// Typical: ~65s.
package ipleak

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/hostlocal"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/nodeexec"
	"github.com/nodelab/nodelab/lab/noderuntime"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

// RangeSize is how many addresses the narrowed network gives out: four app
// pods, then four more for their new sandboxes fill it.
const RangeSize = 8

// noIPMessage is what host-local says when the range is full.
const noIPMessage = "no IP addresses available in range set"

// Scenario is the catalog entry. The leak stops the kubelet and restarts
// containerd on a worker: Disruptive, so its specs run Serial.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "ip-leak",
		Summary:  "pitfall: sandboxes removed behind the CNI's back (a runtime upgrade done wrong) keep their host-local addresses until new pods get no IP; fix: release the reservations no live sandbox holds (containerd client), pods start, live pods keep theirs",
		Labels:   []scenarios.Label{scenarios.Slow, scenarios.Disruptive},
		Needs:    []scenarios.Need{scenarios.NodeAccess, scenarios.NodeChanges},
		Requires: []string{"the worker's node container through this host's Docker engine (the kubelet is stopped)", "≥ 1 worker", "containerd and socat on the node", "the node's CNI configuration not managed by Multus (measured)"},
		Typical:  65 * time.Second,
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "prepare: a worker's pod network narrowed to 8 addresses of its podCIDR", Timeout: Timeouts.Prepare, Typical: time.Second, Run: r.Prepare},
				{Side: scenarios.Pitfall, Name: "pitfall: sandboxes removed behind the CNI's back keep their addresses; new pods get no IP", Timeout: Timeouts.Pitfall, Typical: 33 * time.Second, Run: r.PitfallLeak},
				{Side: scenarios.Fix, Name: "fix: reservations no live sandbox holds are released; pods start; live pods keep theirs", Timeout: Timeouts.Fix, Typical: 14 * time.Second, Run: r.FixRelease},
			},
			Cleanup:    scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
			LeakChecks: []scenarios.Step{{Side: scenarios.Check, Name: "leaves no CNI configuration, reservation, cached result or network namespace on the worker", Timeout: Timeouts.LeftNothing, Run: r.LeftNothing}},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env scenarios.Env
	Lab *lab.Lab
	// Namespace is created by Prepare; Node is the worker.
	Namespace string
	Node      string

	node    nodeexec.Node
	runtime *noderuntime.Client
	window  window
	// appIPs are the app pods' addresses after the leak (pod name → IP);
	// leaked are the reservations the leak orphaned.
	appIPs map[string]netip.Addr
	leaked []hostlocal.Reservation
	// leakedNetNS are the network namespaces the leak deleted, checked gone.
	leakedNetNS []string

	confWritten    bool
	kubeletStopped bool
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook { return &Runbook{env: env, Lab: env.Lab} }

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// Prepare picks a worker and narrows its pod network.
func (r *Runbook) Prepare(ctx context.Context) error {
	if err := scenarios.NodeAccessWithoutKubelet(r.env, "the leak stops the worker's kubelet"); err != nil {
		return err
	}
	workers, err := r.Lab.Workers()
	if err != nil {
		return err
	}
	if len(workers) == 0 {
		return scenarios.Skipf("needs a worker (the control plane's pods must not lose their network); %s has none", r.Lab.Name)
	}
	r.node, r.Node = workers[0], workers[0].String()
	n, err := r.Lab.Client.CoreV1().Nodes().Get(ctx, r.Node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", r.Node, err)
	}
	if n.Spec.PodCIDR == "" {
		return scenarios.Skipf("node %s has no spec.podCIDR (the pod network does not give per-node ranges); the narrowed range is taken from it", r.Node)
	}
	active, err := readActiveNetwork(ctx, r.node)
	if err != nil {
		return err
	}
	left, err := nodeexec.Run(ctx, r.node, "sh", "-c", `for p in "$@"; do [ ! -e "$p" ] || echo "$p"; done`, "sh", ConfPath, hostlocal.NetworkDir(NetworkName))
	if err != nil {
		return err
	}
	if strings.TrimSpace(left) != "" {
		return fmt.Errorf("%s is already on node %s (left by an interrupted run): remove it (docker exec %s rm -rf %s %s %s) and run again",
			strings.Join(strings.Fields(left), " and "), r.Node, r.Node, ConfPath, hostlocal.NetworkDir(NetworkName), resultCacheGlob)
	}
	if active.Meta != "" {
		return scenarios.Skipf("%s on node %s is a %s configuration: Multus' thin plugin regenerates it every second from the first other file of %s, so a narrowed network written there would become its delegate and stay so after removal; measured: the first file is %s", active.File, r.Node, active.Meta, ConfDir, active.File)
	}
	taken, err := hostlocal.Read(ctx, r.node, active.Name)
	if err != nil {
		return err
	}
	if r.window, err = pickWindow(n.Spec.PodCIDR, RangeSize, taken); err != nil {
		return err
	}
	conf, err := conflist(r.window)
	if err != nil {
		return err
	}
	if r.runtime, err = noderuntime.Dial(ctx, r.node, ""); err != nil {
		return err
	}
	version, err := r.runtime.Version(ctx)
	if err != nil {
		return err
	}
	r.env.Logf("worker %s: containerd %s, pod network %q (%s, %d reservations), podCIDR %s", r.Node, version, active.Name, active.File, len(taken), n.Spec.PodCIDR)
	r.env.Logf("CNI GC verb (spec 1.1.0): %s", r.gcSupport(ctx))
	if r.Namespace, err = r.Lab.CreateNamespace(ctx, "nodelab-ip-leak"); err != nil {
		return err
	}
	r.confWritten = true
	if err := nodeexec.WriteFile(ctx, r.node, ConfPath, conf, fs.FileMode(0o644)); err != nil {
		return err
	}
	// containerd reloads the directory on its own schedule: wait until
	// the CRI says it uses the narrowed network.
	err = wait.Until(ctx, wait.Within{What: "the CRI on " + r.Node + " using network " + NetworkName, Timeout: r.env.Scaled(Timeouts.ConfLoaded), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		st, err := r.runtime.Runtime.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(strings.ReplaceAll(st.GetInfo()["cniconfig"], " ", "")).To(gomega.ContainSubstring(`"Name":"`+NetworkName+`"`), "last seen: the CRI's cniconfig")
	})
	if err != nil {
		return err
	}
	r.env.Logf("new sandboxes on %s now get addresses from %s only (network %q, %s; the CRI reports it loaded)", r.Node, r.window, NetworkName, ConfPath)
	return nil
}

// gcSupport reports the host-local plugin's supported CNI versions: GC
// needs 1.1.0.
func (r *Runbook) gcSupport(ctx context.Context) string {
	out, err := nodeexec.Run(ctx, r.node, "sh", "-c", "CNI_COMMAND=VERSION /opt/cni/bin/host-local </dev/null")
	if err != nil {
		return fmt.Sprintf("not measured: %v", err)
	}
	if strings.Contains(out, `"1.1.0"`) {
		return "host-local supports it: " + strings.TrimSpace(out)
	}
	return "not supported by this node's host-local (" + strings.TrimSpace(out) + "), so nodelab's reconciler does it"
}

// PitfallLeak runs the four app pods, removes their sandboxes behind the
// CNI's back, and shows the range exhausted.
func (r *Runbook) PitfallLeak(ctx context.Context) error {
	apps, err := manifest.DecodePods(fixtures.FS, "ip-leak/pods.yaml")
	if err != nil {
		return err
	}
	running, err := r.Lab.CreatePodsOn(ctx, r.Namespace, r.Node, images.AgnhostImage, apps, r.t().PodStart)
	if err != nil {
		return err
	}
	before := map[string]netip.Addr{}
	for _, p := range running {
		ip, err := r.inWindow(&p)
		if err != nil {
			return err
		}
		before[p.Name] = ip
	}
	// The control: every reservation is a live sandbox's.
	if orphans, res, err := r.orphans(ctx); err != nil {
		return err
	} else if len(orphans) != 0 || len(res) != len(apps) {
		return fmt.Errorf("before any leak: %d reservations (want %d, one per app pod) and orphans %v (want none)", len(res), len(apps), orphans)
	}
	r.env.Logf("control: %d app pods on %s hold %s; every reservation is a live sandbox's", len(apps), r.Node, addrList(before))

	start := time.Now()
	if err := r.leak(ctx); err != nil {
		return err
	}
	kubeletBack := time.Now()
	r.appIPs = map[string]netip.Addr{}
	for name, old := range before {
		ip, err := r.waitNewAddress(ctx, name, old)
		if err != nil {
			return err
		}
		r.appIPs[name] = ip
	}
	orphans, res, err := r.orphans(ctx)
	if err != nil {
		return err
	}
	if got, want := addrsOf(orphans), sortedAddrs(before); !sameAddrs(got, want) {
		return fmt.Errorf("after the leak the orphaned reservations are %v, want the app pods' old addresses %v", got, want)
	}
	if len(res) != RangeSize {
		return fmt.Errorf("after the leak %d of the window's %d addresses are reserved, want all", len(res), RangeSize)
	}
	r.leaked = orphans
	r.env.Logf("leaked (reserved, no sandbox in containerd): %s", resList(orphans))
	r.env.Logf("the app pods run again on new sandboxes: %s; the window %s is full", addrList(r.appIPs), r.window)
	r.env.Measure("leaked addresses", fmt.Sprintf("%d of %d", len(orphans), RangeSize))

	if err := r.createLate(ctx); err != nil {
		return err
	}
	refusedAt, msg, err := r.waitRefused(ctx)
	if err != nil {
		return err
	}
	r.env.Logf("late pods refused: %s", msg)
	r.env.Measure("range exhausted after the leak", refusedAt.Sub(kubeletBack).Round(displayRound).String())
	r.env.Measure("leak to refusal", refusedAt.Sub(start).Round(displayRound).String())
	// They stay Pending while the range is full: the kubelet's retries fail too.
	return wait.Holds(ctx, wait.Within{What: "the late pods Pending without an address", Timeout: r.env.Scaled(Timeouts.StaysPending), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		for _, name := range lateNames {
			p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
			g.Expect(err).NotTo(gomega.HaveOccurred())
			g.Expect(p.Status.Phase).To(gomega.Equal(corev1.PodPending), "pod %s phase", name)
			g.Expect(p.Status.PodIP).To(gomega.BeEmpty(), "pod %s got an address although the window is full", name)
		}
	})
}

// FixRelease releases the reservations no live sandbox holds and checks
// the late pods start and the live ones keep theirs.
func (r *Runbook) FixRelease(ctx context.Context) error {
	if r.leaked == nil {
		return fmt.Errorf("the pitfall did not leak (run the whole scenario)")
	}
	orphans, _, err := r.orphans(ctx)
	if err != nil {
		return err
	}
	if got, want := addrsOf(orphans), addrsOf(r.leaked); !sameAddrs(got, want) {
		return fmt.Errorf("the reconciler finds orphans %v, want exactly the leaked %v", got, want)
	}
	released, err := hostlocal.Release(ctx, r.node, NetworkName, orphans)
	if err != nil {
		return err
	}
	start := time.Now()
	sort.Slice(released, func(i, j int) bool { return released[i].Less(released[j]) })
	if !sameAddrs(released, addrsOf(orphans)) {
		return fmt.Errorf("released %v, want %v", released, addrsOf(orphans))
	}
	r.env.Logf("released %d reservations no sandbox holds: %v", len(released), released)
	freed := map[netip.Addr]bool{}
	for _, ip := range released {
		freed[ip] = true
	}
	for _, name := range lateNames {
		p, err := r.Lab.WaitPodRunning(ctx, r.Namespace, name, r.env.Scaled(Timeouts.Recovered))
		if err != nil {
			return err
		}
		ip, err := r.inWindow(p)
		if err != nil {
			return err
		}
		if !freed[ip] {
			return fmt.Errorf("late pod %s got %s, which was not released (released: %v)", name, ip, released)
		}
	}
	r.env.Measure("recovery after release", time.Since(start).Round(displayRound).String())
	return r.liveKeptTheirs(ctx)
}

// liveKeptTheirs checks the app pods still run on the addresses they had
// and each reservation names their live sandbox.
func (r *Runbook) liveKeptTheirs(ctx context.Context) error {
	sandboxes, err := r.runtime.Sandboxes(ctx)
	if err != nil {
		return err
	}
	res, err := hostlocal.Read(ctx, r.node, NetworkName)
	if err != nil {
		return err
	}
	holder := map[netip.Addr]string{}
	for _, x := range res {
		holder[x.IP] = x.ContainerID
	}
	for name, ip := range r.appIPs {
		p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get pod %s: %w", name, err)
		}
		if p.Status.PodIP != ip.String() || p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("app pod %s: %s on %s, want Running on %s (a live pod lost its address)", name, p.Status.Phase, p.Status.PodIP, ip)
		}
		var id string
		for _, sb := range sandboxes {
			if sb.PodNamespace == r.Namespace && sb.PodName == name && sb.Running {
				id = sb.ID
			}
		}
		if id == "" || holder[ip] != id {
			return fmt.Errorf("app pod %s: reservation of %s names sandbox %q, its live sandbox is %q", name, ip, holder[ip], id)
		}
	}
	r.env.Logf("the app pods kept %s, each reserved by its live sandbox", addrList(r.appIPs))
	return nil
}

// Cleanup starts a kubelet the leak left stopped, deletes the pods (their
// CNI DEL frees the window), then the configuration and the reservation
// folder.
func (r *Runbook) Cleanup(ctx context.Context) error {
	var errs []string
	if r.kubeletStopped {
		if _, err := nodeexec.Run(ctx, r.node, "systemctl", "start", "containerd", "kubelet"); err != nil {
			errs = append(errs, err.Error())
		} else if err := r.Lab.WaitNodesReady(ctx, 0, r.t().NodeReady); err != nil {
			errs = append(errs, err.Error())
		}
		r.kubeletStopped = false
	}
	if r.Namespace != "" {
		if err := r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if r.confWritten {
		if res, err := hostlocal.Read(ctx, r.node, NetworkName); err == nil && len(res) > 0 {
			r.env.Logf("reservations left after the pods were deleted (removed now): %s", resList(res))
		}
		// libcni keeps each ADD's result until the DEL; the leaked
		// sandboxes never got one.
		if _, err := nodeexec.Run(ctx, r.node, "sh", "-c", `rm -rf "$1" "$2" $3`, "sh", ConfPath, hostlocal.NetworkDir(NetworkName), resultCacheGlob); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, ns := range r.leakedNetNS {
		if _, err := nodeexec.Run(ctx, r.node, "sh", "-c", `[ ! -e "/var/run/netns/$1" ] || ip netns delete "$1"`, "sh", ns); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if r.runtime != nil {
		_ = r.runtime.Close()
	}
	if len(errs) > 0 {
		return fmt.Errorf("cleanup on %s: %s", r.Node, strings.Join(errs, "; "))
	}
	return nil
}

// LeftNothing checks the worker has none of the scenario's files or
// network namespaces.
func (r *Runbook) LeftNothing(ctx context.Context) error {
	if r.node == nil {
		return nil
	}
	paths := []string{ConfPath, hostlocal.NetworkDir(NetworkName)}
	for _, ns := range r.leakedNetNS {
		paths = append(paths, path.Join("/var/run/netns", ns))
	}
	// $1 is the result cache glob, expanded by the shell; then the paths.
	args := append([]string{"-c", `g="$1"; shift; for p in "$@" $g; do [ ! -e "$p" ] || echo "$p"; done`, "sh", resultCacheGlob}, paths...)
	out, err := nodeexec.Run(ctx, r.node, "sh", args...)
	if err != nil {
		return err
	}
	if left := strings.Fields(out); len(left) > 0 {
		return fmt.Errorf("left on node %s: %s", r.Node, strings.Join(left, ", "))
	}
	return nil
}
