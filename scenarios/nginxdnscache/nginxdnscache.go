// Package nginxdnscache is the runbook of scenario `nginx-dns-cache`: nginx
// with `proxy_pass http://<name>` resolves the name once, when it loads its
// configuration, and keeps sending to those addresses after the name's
// pods are replaced.
//
// Seed: a headless Service's pods replaced (a rollout, a node drain) and
// nginx in front of them answering 502/504 until it is reloaded, while
// `nslookup` in the same cluster already shows the new addresses. The fix
// from the seed: a `resolver` directive (the cluster DNS) with a short
// `valid=` and a variable in `proxy_pass`, which makes nginx resolve the
// name at request time and cache the answer for `valid`.
//
// Steps, top to bottom:
//  1. deploy (setup): the nginx image (Debian's nginx from the offline
//     forge, the upstream image online); two backends (agnhost netexec)
//     behind a headless Service; the two configurations rendered from
//     fixtures/nginx-dns-cache/nginx.conf.tmpl (the backends' FQDN, the
//     kube-dns Service address) and one nginx pod per configuration; every
//     CoreDNS pod answers the backends' addresses (asked directly, DNS over
//     TCP through a port-forward), and its TTL is recorded.
//  2. pitfall (nginx-static: proxy_pass to the name): Rate requests/s
//     through a port-forward to nginx; the backends replaced (a rollout
//     with surge: both new pods Ready before an old one stops, so the
//     Service always has ready endpoints); once the old pods are gone,
//     every CoreDNS pod answers only the new addresses, yet every request
//     through nginx started after the old pods went fails (classified:
//     5xx, timeouts, resets) for as long as it is watched (MinBroken after
//     DNS answered the new addresses), and nginx's error log names only the
//     old addresses as the upstreams it failed to reach.
//  3. fix (nginx-resolver: resolver valid=Valid, a variable in
//     proxy_pass): the same load and the same replacement; the last failed
//     request ends within Valid + the DNS TTL (+ one request timeout) of
//     the old pods going, every request after it succeeds for at least
//     MinHealthy.
//     Both runs are plotted as timelines (ok and failures per second, with
//     the replacement's events).
//  4. nothing left: the namespace deleted, no port-forward open.
//
// Host requirements: none beyond a lab (the backends' and nginx's images
// are loaded or pulled). Typical: ~1m30s (the fix watches the whole
// recovery bound, valid + TTL + a request timeout, 38 s with kubeadm's
// CoreDNS, plus MinHealthy).
package nginxdnscache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodelab/nodelab/fixtures"
	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/addon"
	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/instruments/loadprobe"
	"github.com/nodelab/nodelab/lab/instruments/portforward"
	"github.com/nodelab/nodelab/lab/kubelet"
	"github.com/nodelab/nodelab/lab/manifest"
	"github.com/nodelab/nodelab/lab/wait"
	"github.com/nodelab/nodelab/scenarios"
)

const (
	// Rate is the probe's request rate through nginx (requests/s).
	Rate = 20
	// probeWorkers bounds the probe's requests in flight.
	probeWorkers = 8
	// dnsPort is CoreDNS's port in its pods.
	dnsPort = 53
	// nginxPort is where both nginx configurations listen.
	nginxPort = 8080
	// restartAnnotation on the backends' pod template replaces them, as
	// kubectl rollout restart does.
	restartAnnotation = "nodelab.dev/restarted-at"
)

var confTmpl = template.Must(template.New("nginx.conf.tmpl").Option("missingkey=error").ParseFS(fixtures.FS, "nginx-dns-cache/nginx.conf.tmpl"))

// Scenario is the catalog entry.
var Scenario = scenarios.Scenario{
	Info: scenarios.Info{
		ID:       "nginx-dns-cache",
		Summary:  "pitfall: nginx with proxy_pass to a headless Service's name keeps the addresses it resolved at start, and fails every request once the pods are replaced although DNS answers the new ones; fix: resolver with valid= and a variable in proxy_pass, recovery within valid + the DNS TTL",
		Labels:   []scenarios.Label{scenarios.Slow},
		Requires: []string{"the nginx image (forge: Debian's nginx)"},
		Typical:  90 * time.Second,
		Images:   []images.Image{images.Nginx()},
	},
	Runbook: func(env scenarios.Env) scenarios.Runbook {
		r := New(env)
		return scenarios.Runbook{
			Steps: []scenarios.Step{
				{Side: scenarios.Setup, Name: "deploy: two backends behind a headless Service, nginx with each configuration", Timeout: Timeouts.Deploy, Typical: 6 * time.Second, Run: r.Deploy},
				{Side: scenarios.Pitfall, Name: "pitfall: proxy_pass to the name keeps the old addresses; every request fails after the replacement while DNS answers the new ones", Timeout: Timeouts.Side, Typical: 21 * time.Second, Run: r.PitfallStaticResolve},
				{Side: scenarios.Fix, Name: "fix: resolver valid= and a variable proxy_pass recover within valid + the DNS TTL", Timeout: Timeouts.Side, Typical: 54 * time.Second, Run: r.FixResolver},
			},
			Cleanup:    scenarios.Step{Name: "cleanup", Timeout: Timeouts.Cleanup, Run: r.Cleanup},
			LeakChecks: []scenarios.Step{{Side: scenarios.Check, Name: "leaves no port-forward open", Timeout: Timeouts.LeftNothing, Run: r.LeftNothing}},
		}
	},
}

// Runbook holds the state of one run.
type Runbook struct {
	env    scenarios.Env
	Lab    *lab.Lab
	Addons addon.Options
	// Namespace is created by Deploy; Backend is the backends' FQDN and
	// Resolver the cluster DNS address nginx's resolver asks.
	Namespace string
	Backend   string
	Resolver  string
	// TTL is the largest TTL CoreDNS answered for Backend: the record TTL.
	TTL time.Duration
}

// New returns a runbook for an environment.
func New(env scenarios.Env) *Runbook {
	return &Runbook{env: env, Lab: env.Lab, Addons: env.Addons}
}

func (r *Runbook) t() scenarios.Timeouts { return r.env.T() }

// confData fills nginx.conf.tmpl; Resolver empty renders the pitfall.
type confData struct {
	Backend, Resolver, Valid, ConnectTimeout, ReadTimeout string
}

// nginxDuration formats d as nginx does (whole seconds or milliseconds).
func nginxDuration(d time.Duration) string {
	if ms := d.Milliseconds(); ms%1000 != 0 {
		return fmt.Sprintf("%dms", ms)
	}
	return fmt.Sprintf("%ds", d.Milliseconds()/1000)
}

// Render returns the nginx configuration for backend, resolving through
// resolver ("" for the pitfall's static resolution).
func Render(backend, resolver string) (string, error) {
	var b bytes.Buffer
	err := confTmpl.Execute(&b, confData{Backend: backend, Resolver: resolver, Valid: nginxDuration(Valid),
		ConnectTimeout: nginxDuration(ConnectTimeout), ReadTimeout: nginxDuration(ReadTimeout)})
	if err != nil {
		return "", fmt.Errorf("render nginx.conf.tmpl: %w", err)
	}
	return b.String(), nil
}

// Deploy creates the backends, the configurations and the two nginx pods.
func (r *Runbook) Deploy(ctx context.Context) error {
	img := images.Nginx()
	if err := addon.EnsureImages(ctx, r.Lab, r.Addons, img); err != nil {
		return err
	}
	ns, err := r.Lab.CreateNamespace(ctx, "nodelab-nginx-dns")
	if err != nil {
		return err
	}
	r.Namespace = ns
	domain, err := r.clusterDomain(ctx)
	if err != nil {
		return err
	}
	r.Backend = "backends." + ns + ".svc." + domain
	if err := manifest.CreateFile(ctx, r.Lab.Config, fixtures.FS, "nginx-dns-cache/backends.yaml", manifest.InNamespace(ns)); err != nil {
		return err
	}
	dns, err := r.Lab.Client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get the cluster DNS Service kube-system/kube-dns: %w", err)
	}
	r.Resolver = dns.Spec.ClusterIP
	static, err := Render(r.Backend, "")
	if err != nil {
		return err
	}
	resolving, err := Render(r.Backend, r.Resolver)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx-conf", Labels: map[string]string{manifest.ManagedByLabel: manifest.ManagedByValue}},
		Data:       map[string]string{"static.conf": static, "resolver.conf": resolving},
	}
	if _, err := r.Lab.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
		return fmt.Errorf("create ConfigMap %s/nginx-conf: %w", ns, err)
	}
	// nginx resolves static.conf's name when it starts: the backends must
	// be in DNS first.
	old, err := r.waitBackends(ctx, nil)
	if err != nil {
		return err
	}
	if err := r.waitDNS(ctx, old, "the backends' addresses"); err != nil {
		return err
	}
	pods, err := manifest.DecodePods(fixtures.FS, "nginx-dns-cache/nginx.yaml")
	if err != nil {
		return err
	}
	ref := img.Ref(addon.Source(r.Lab))
	for i := range pods {
		pods[i].Namespace = ns
		pods[i].Labels[manifest.ManagedByLabel] = manifest.ManagedByValue
		pods[i].Spec.Containers[0].Image = ref
		pods[i].Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
		if _, err := r.Lab.Client.CoreV1().Pods(ns).Create(ctx, &pods[i], metav1.CreateOptions{FieldManager: "nodelab"}); err != nil {
			return fmt.Errorf("create pod %s/%s: %w", ns, pods[i].Name, err)
		}
	}
	for _, p := range pods {
		if err := r.waitReady(ctx, p.Name); err != nil {
			return err
		}
	}
	r.env.Logf("backends %s at %s; nginx resolver %s valid=%s; CoreDNS TTL %s", r.Backend, addrList(old), r.Resolver, Valid, r.TTL)
	return nil
}

// run is one side's measurement.
type run struct {
	res    *loadprobe.Result
	events []loadprobe.Event
	// old and fresh are the backends' addresses before and after the
	// replacement; oldGone is when no old pod was left, dnsNew when every
	// CoreDNS pod answered only fresh addresses; cut is when the probe was
	// stopped (requests ending then were cut off, not failed).
	old, fresh      []netip.Addr
	oldGone, dnsNew time.Time
	cut             time.Time
}

// after returns the requests that started at or after t and were not cut
// off by the probe's stop.
func (rn *run) after(t time.Time) []loadprobe.Request {
	var qs []loadprobe.Request
	for _, q := range rn.res.Requests {
		if !q.Start.Before(t) && q.End.Before(rn.cut) {
			qs = append(qs, q)
		}
	}
	return qs
}

// measure probes nginx pod while the backends are replaced, and stops the
// probe stopAfter(run) after the replacement is done.
func (r *Runbook) measure(ctx context.Context, pod string, stopAt func(*run) time.Time) (*run, error) {
	fw, err := portforward.Start(ctx, r.Lab.Config, r.Namespace, pod, nginxPort)
	if err != nil {
		return nil, err
	}
	defer fw.Close()
	url := "http://" + fw.Addr() + "/hostname"
	// nginx answers with a backend's name before the load starts.
	err = wait.Until(ctx, wait.Within{What: "a backend's hostname through " + pod, Timeout: r.env.Scaled(Timeouts.FirstAnswer), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		if err := fw.Err(); err != nil {
			gomega.StopTrying("the port-forward to " + pod + " stopped: " + err.Error()).Now()
		}
		body, status, err := get(ctx, url)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(status).To(gomega.Equal(http.StatusOK), "status through nginx; body %q", body)
		g.Expect(body).To(gomega.HavePrefix("backends-"), "the answer names a backend pod")
	})
	if err != nil {
		return nil, err
	}

	rn := &run{}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	type probeOut struct {
		res *loadprobe.Result
		err error
	}
	done := make(chan probeOut, 1)
	go func() {
		res, err := loadprobe.Run(pctx, loadprobe.Options{URL: url, Rate: Rate, Duration: r.env.Scaled(Timeouts.ProbeMax),
			KeepAliveFraction: 1, Timeout: RequestTimeout, Workers: probeWorkers})
		done <- probeOut{res, err}
	}()
	event := func(kind, subject, detail string) {
		rn.events = append(rn.events, loadprobe.Event{At: time.Now(), Kind: kind, Subject: subject, Detail: detail})
	}
	// Lead-in: the load runs against the current backends first.
	if err := wait.Holds(ctx, wait.Within{What: "the port-forward to " + pod + " up before the replacement", Timeout: LeadIn, Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		g.Expect(fw.Err()).NotTo(gomega.HaveOccurred())
	}); err != nil {
		return nil, err
	}
	if rn.old, err = r.backendAddrs(ctx); err != nil {
		return nil, err
	}
	event("replace", "backends", "rollout restart, surge 100%")
	if err := r.restartBackends(ctx); err != nil {
		return nil, err
	}
	if rn.fresh, err = r.waitBackends(ctx, rn.old); err != nil {
		return nil, err
	}
	rn.oldGone = time.Now()
	event("old-pods-gone", "backends", "now "+addrList(rn.fresh))
	if overlap := intersect(rn.old, rn.fresh); len(overlap) > 0 {
		return nil, fmt.Errorf("the new backends reuse old addresses %s (the node's IPAM cycled): the replacement cannot show a stale address", addrList(overlap))
	}
	if err := r.waitDNS(ctx, rn.fresh, "only the new addresses"); err != nil {
		return nil, err
	}
	rn.dnsNew = time.Now()
	event("dns-new", "CoreDNS", "answers "+addrList(rn.fresh))

	// Keep the load on until the side has seen enough, bounded by ProbeMax.
	until := stopAt(rn)
	if err := wait.Holds(ctx, wait.Within{What: "the port-forward to " + pod + " up while the load runs", Timeout: max(time.Until(until), Timeouts.Poll), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		g.Expect(fw.Err()).NotTo(gomega.HaveOccurred())
	}); err != nil {
		return nil, err
	}
	rn.cut = time.Now()
	stop()
	out := <-done
	// Canceled by the stop above is how the probe is meant to end.
	if stoppedHere := errors.Is(out.err, context.Canceled) && ctx.Err() == nil; out.err != nil && !stoppedHere {
		return nil, out.err
	}
	rn.res = out.res
	if rn.res.Stop != loadprobe.StopCanceled {
		return nil, fmt.Errorf("the load probe stopped by itself (%s) before the observation ended: %s", rn.res.Stop, rn.res.Summary())
	}
	if len(rn.res.Requests) == 0 {
		return nil, fmt.Errorf("the load probe sent no request")
	}
	r.env.Timeline("nginx-"+pod, rn.res.Timeline(pod+": requests through nginx while the backends are replaced", rn.events))
	return rn, nil
}

// PitfallStaticResolve: nginx keeps the addresses it resolved at start.
func (r *Runbook) PitfallStaticResolve(ctx context.Context) error {
	rn, err := r.measure(ctx, "nginx-static", func(rn *run) time.Time { return rn.dnsNew.Add(r.env.Scaled(MinBroken)) })
	if err != nil {
		return err
	}
	before := rn.res.Requests[0].Start
	okBefore := countOK(rn.res.Requests, func(q loadprobe.Request) bool { return q.End.Before(rn.events[0].At) })
	if okBefore == 0 {
		return fmt.Errorf("no request through nginx-static succeeded before the replacement (from %s): the pitfall needs a working proxy first; %s", before.Format("15:04:05"), rn.res.Summary())
	}
	broken := rn.after(rn.oldGone)
	if len(broken) == 0 {
		return fmt.Errorf("no request started after the old backends were gone")
	}
	if ok := countOK(broken, func(loadprobe.Request) bool { return true }); ok > 0 {
		return fmt.Errorf("%d of %d requests through nginx-static started after the old backends were gone succeeded: nginx reached the new backends (old %s, new %s)", ok, len(broken), addrList(rn.old), addrList(rn.fresh))
	}
	afterDNS := rn.after(rn.dnsNew)
	window := time.Duration(0)
	if len(afterDNS) > 0 {
		window = afterDNS[len(afterDNS)-1].End.Sub(rn.dnsNew).Round(time.Second)
	}
	if window < MinBroken-RequestTimeout {
		return fmt.Errorf("watched only %s (%d requests) after CoreDNS answered the new addresses, want %s", window, len(afterDNS), MinBroken)
	}
	upstreams, err := r.failedUpstreams(ctx, "nginx-static")
	if err != nil {
		return err
	}
	if len(upstreams) == 0 || len(intersect(upstreams, rn.fresh)) > 0 || len(intersect(upstreams, rn.old)) != len(upstreams) {
		return fmt.Errorf("nginx-static's error log names upstreams %s; want only old addresses %s (new: %s)", addrList(upstreams), addrList(rn.old), addrList(rn.fresh))
	}
	r.env.Logf("nginx-static: %d ok before the replacement; all %d requests after the old backends went failed (%s), %s of them after CoreDNS answered %s; nginx's log: upstreams %s (the old pods)",
		okBefore, len(broken), classes(broken), window, addrList(rn.fresh), addrList(upstreams))
	r.env.Measure("pitfall: failed after the replacement", fmt.Sprintf("%d of %d (%s), still failing %s after DNS answered the new addresses", len(broken), len(broken), classes(broken), window))
	return nil
}

// FixResolver: nginx re-resolves and recovers within valid + the TTL.
func (r *Runbook) FixResolver(ctx context.Context) error {
	bound := Valid + r.TTL + RequestTimeout
	rn, err := r.measure(ctx, "nginx-resolver", func(rn *run) time.Time {
		return later(rn.oldGone.Add(bound), rn.dnsNew).Add(r.env.Scaled(MinHealthy))
	})
	if err != nil {
		return err
	}
	reqs := rn.after(rn.res.Requests[0].Start)
	var lastFail *loadprobe.Request
	for i := range reqs {
		if reqs[i].Failed() {
			lastFail = &reqs[i]
		}
	}
	recovery := time.Duration(0)
	if lastFail != nil && lastFail.End.After(rn.oldGone) {
		recovery = lastFail.End.Sub(rn.oldGone)
	}
	failed := 0
	var failures []loadprobe.Request
	for _, q := range reqs {
		if q.Failed() {
			failed++
			failures = append(failures, q)
		}
	}
	if recovery > bound {
		return fmt.Errorf("nginx-resolver failed requests until %s after the old backends were gone, beyond valid (%s) + the DNS TTL (%s) + one request timeout (%s) = %s; failures: %s",
			recovery.Round(displayRound), Valid, r.TTL, RequestTimeout, bound, classes(failures))
	}
	recovered := rn.after(rn.oldGone.Add(recovery))
	healthy := time.Duration(0)
	if len(recovered) > 0 {
		healthy = recovered[len(recovered)-1].End.Sub(rn.oldGone.Add(recovery))
	}
	if healthy < MinHealthy-RequestTimeout {
		return fmt.Errorf("watched only %s of successful requests after the recovery, want %s", healthy.Round(time.Second), MinHealthy)
	}
	if ok := countOK(recovered, func(loadprobe.Request) bool { return true }); ok == 0 {
		return fmt.Errorf("no request succeeded after the recovery")
	}
	r.env.Logf("nginx-resolver: %d of %d requests failed (%s); the last failure ended %s after the old backends went (bound %s = valid %s + TTL %s + request timeout %s); ok for %s after",
		failed, len(reqs), classes(failures), recovery.Round(displayRound), bound, Valid, r.TTL, RequestTimeout, healthy.Round(time.Second))
	r.env.Measure("fix: recovery after the replacement", fmt.Sprintf("%s (bound %s); %d of %d requests failed", recovery.Round(displayRound), bound, failed, len(reqs)))
	return nil
}

// Cleanup deletes the namespace.
func (r *Runbook) Cleanup(ctx context.Context) error {
	if r.Namespace == "" {
		return nil
	}
	return r.Lab.DeleteNamespace(ctx, r.Namespace, r.t().Cleanup)
}

// LeftNothing checks that every port-forward of the run is closed.
func (r *Runbook) LeftNothing(context.Context) error {
	if n := portforward.Open(); n != 0 {
		return fmt.Errorf("%d port-forward(s) still open", n)
	}
	return nil
}

// clusterDomain is the Services' DNS domain, from a node's kubelet.
func (r *Runbook) clusterDomain(ctx context.Context) (string, error) {
	nodes, err := r.Lab.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list nodes: %w", err)
	}
	if len(nodes.Items) == 0 {
		return "", fmt.Errorf("the cluster has no node")
	}
	cz, err := kubelet.ReadConfigz(ctx, r.Lab.Client, nodes.Items[0].Name)
	if err != nil {
		return "", err
	}
	if cz.ClusterDomain == "" {
		return "", fmt.Errorf("node %s's kubelet has no clusterDomain in /configz", nodes.Items[0].Name)
	}
	return strings.TrimSuffix(cz.ClusterDomain, "."), nil
}

// waitReady waits until the pod reports Ready (nginx answers its
// readiness probe, so a port-forward finds it listening).
func (r *Runbook) waitReady(ctx context.Context, pod string) error {
	return wait.Until(ctx, wait.Within{What: "pod " + r.Namespace + "/" + pod + " Ready", Timeout: r.t().PodStart, Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		p, err := r.Lab.Client.CoreV1().Pods(r.Namespace).Get(ctx, pod, metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		if p.Status.Phase == corev1.PodFailed {
			gomega.StopTrying(fmt.Sprintf("pod %s failed: %s %s", pod, p.Status.Reason, p.Status.Message)).Now()
		}
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				ready = c.Status == corev1.ConditionTrue
			}
		}
		g.Expect(ready).To(gomega.BeTrue(), "last seen: phase %s, container statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
	})
}

// restartBackends replaces every backend pod, as kubectl rollout restart.
func (r *Runbook) restartBackends(ctx context.Context) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartAnnotation, time.Now().Format(time.RFC3339Nano))
	if _, err := r.Lab.Client.AppsV1().Deployments(r.Namespace).Patch(ctx, "backends", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "nodelab"}); err != nil {
		return fmt.Errorf("restart deployment %s/backends: %w", r.Namespace, err)
	}
	return nil
}

// backendAddrs lists the backend pods' addresses, sorted.
func (r *Runbook) backendAddrs(ctx context.Context) ([]netip.Addr, error) {
	pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=backends"})
	if err != nil {
		return nil, fmt.Errorf("list the backends: %w", err)
	}
	var addrs []netip.Addr
	for _, p := range pods.Items {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			addrs = append(addrs, a)
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	return addrs, nil
}

// waitBackends waits until the Deployment's replicas are all Ready and no
// pod with an address in old is left, and returns the addresses.
func (r *Runbook) waitBackends(ctx context.Context, old []netip.Addr) ([]netip.Addr, error) {
	var addrs []netip.Addr
	err := wait.Until(ctx, wait.Within{What: "both backends Ready and no old backend pod left", Timeout: r.t().PodStart, Poll: Timeouts.FastPoll}, func(g gomega.Gomega) {
		d, err := r.Lab.Client.AppsV1().Deployments(r.Namespace).Get(ctx, "backends", metav1.GetOptions{})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		g.Expect(rolledOut(d)).To(gomega.BeTrue(), "deployment status %+v", d.Status)
		pods, err := r.Lab.Client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=backends"})
		g.Expect(err).NotTo(gomega.HaveOccurred())
		addrs = nil
		for _, p := range pods.Items {
			a, err := netip.ParseAddr(p.Status.PodIP)
			g.Expect(err).NotTo(gomega.HaveOccurred(), "pod %s has no address yet", p.Name)
			g.Expect(slices.Contains(old, a)).To(gomega.BeFalse(), "old pod %s (%s) still there", p.Name, a)
			addrs = append(addrs, a)
		}
		g.Expect(addrs).To(gomega.HaveLen(int(*d.Spec.Replicas)), "backend pods")
	})
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	return addrs, err
}

func rolledOut(d *appsv1.Deployment) bool {
	want := *d.Spec.Replicas
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.ReadyReplicas == want && d.Status.Replicas == want
}

// waitDNS waits until every CoreDNS pod answers exactly want for the
// backends' name, and records the largest TTL seen.
func (r *Runbook) waitDNS(ctx context.Context, want []netip.Addr, what string) error {
	return wait.Until(ctx, wait.Within{What: "every CoreDNS pod answering " + what + " " + addrList(want) + " for " + r.Backend, Timeout: r.env.Scaled(Timeouts.DNSUpdated), Poll: Timeouts.Poll}, func(g gomega.Gomega) {
		answers, err := r.askCoreDNS(ctx, r.Backend)
		g.Expect(err).NotTo(gomega.HaveOccurred())
		for _, a := range answers {
			r.TTL = max(r.TTL, a.TTL)
			g.Expect(addrList(a.Addrs)).To(gomega.Equal(addrList(want)), "CoreDNS pod %s", a)
		}
	})
}

// upstreamRe finds the upstream of nginx's "connect() failed" and
// "upstream timed out" errors.
var upstreamRe = regexp.MustCompile(`upstream: "http://([0-9.]+):\d+`)

// failedUpstreams reads the nginx pod's error log and returns the
// upstream addresses it logged failures for.
func (r *Runbook) failedUpstreams(ctx context.Context, pod string) ([]netip.Addr, error) {
	stream, err := r.Lab.Client.CoreV1().Pods(r.Namespace).GetLogs(pod, &corev1.PodLogOptions{}).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the log of %s: %w", pod, err)
	}
	defer stream.Close()
	b, err := io.ReadAll(io.LimitReader(stream, maxLog))
	if err != nil {
		return nil, fmt.Errorf("read the log of %s: %w", pod, err)
	}
	var addrs []netip.Addr
	for _, m := range upstreamRe.FindAllStringSubmatch(string(b), -1) {
		if a, err := netip.ParseAddr(m[1]); err == nil && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	return addrs, nil
}

// maxLog bounds how much of an nginx log is read.
const maxLog = 4 << 20

func get(ctx context.Context, url string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLog))
	return strings.TrimSpace(string(b)), resp.StatusCode, err
}

func countOK(qs []loadprobe.Request, keep func(loadprobe.Request) bool) int {
	n := 0
	for _, q := range qs {
		if keep(q) && !q.Failed() {
			n++
		}
	}
	return n
}

// classes counts failures per outcome and status, e.g. "502 ×12, timeout ×3".
func classes(qs []loadprobe.Request) string {
	counts := map[string]int{}
	var keys []string
	for _, q := range qs {
		if !q.Failed() {
			continue
		}
		k := string(q.Outcome)
		if q.Status != 0 {
			k = fmt.Sprintf("%d", q.Status)
		}
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

func intersect(a, b []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func addrList(addrs []netip.Addr) string {
	var s []string
	for _, a := range addrs {
		s = append(s, a.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
