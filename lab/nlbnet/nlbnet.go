package nlbnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nodelab/nodelab/lab/dockercli"
)

// Docker labels on the data-plane container. LabelLab has the value of the
// lab package's node label of the same name; LabelRole keeps Remove away
// from any other container a lab may label.
const (
	LabelLab  = "nodelab.dev/lab"
	LabelRole = "nodelab.dev/role"
	roleValue = "nlb-dataplane"
)

// DefaultNetwork is kind's docker network, on which every node has its IP.
const DefaultNetwork = "kind"

// ErrNeedRoot is returned when this process may not join the data-plane
// container's network namespace.
var ErrNeedRoot = errors.New("ip targets need root (CAP_SYS_ADMIN) to dial from the data-plane container's network namespace; run as root or use instance targets")

// Route is one route of the data plane: a node's podCIDR via that node's
// InternalIP on the lab's docker network.
type Route struct {
	Prefix netip.Prefix
	Via    netip.Addr
}

func (r Route) String() string { return r.Prefix.String() + " via " + r.Via.String() }

// Options configure Start.
type Options struct {
	// Lab is the lab's name: the container is nodelab-<Lab>-nlb-dataplane
	// and carries the docker label nodelab.dev/lab=<Lab>.
	Lab string
	// Network is the docker network the nodes are on; empty means "kind".
	Network string
	// Image is a local image with sleep and iproute2 to run the container
	// from; the lab's node image is one. It is never pulled.
	Image string
	// Routes are added in the container, typically every node's podCIDR via
	// its InternalIP. Each Via must be on Network.
	Routes []Route
	// Lifetime bounds how long the container runs by itself; 0 means
	// DefaultLifetime.
	Lifetime time.Duration
	// Logger receives the container's lifecycle at Info; nil discards.
	Logger *slog.Logger
}

// labNameRE is the profile package's lab name rule; it also keeps the
// container name and label filter free of anything docker would parse.
var labNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// withDefaults validates o and fills its defaults; it reports every problem.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if !labNameRE.MatchString(o.Lab) {
		errs = append(errs, fmt.Errorf("lab name %q: want lower-case letters, digits and dashes (the lab's name)", o.Lab))
	}
	if o.Network == "" {
		o.Network = DefaultNetwork
	}
	if o.Image == "" {
		errs = append(errs, errors.New("image: empty; pass the lab's node image (it is local and has sleep and iproute2)"))
	}
	for i, r := range o.Routes {
		switch {
		case !r.Prefix.IsValid():
			errs = append(errs, fmt.Errorf("route %d: invalid prefix", i))
		case !r.Via.IsValid():
			errs = append(errs, fmt.Errorf("route %d (%s): invalid via address", i, r.Prefix))
		case r.Prefix.Addr().Is4() != r.Via.Unmap().Is4():
			errs = append(errs, fmt.Errorf("route %s: prefix and via are of different IP families", r))
		case r.Prefix != r.Prefix.Masked():
			errs = append(errs, fmt.Errorf("route %s: prefix has host bits set (want %s)", r, r.Prefix.Masked()))
		}
	}
	if o.Lifetime == 0 {
		o.Lifetime = DefaultLifetime
	}
	if o.Lifetime < minLifetime {
		errs = append(errs, fmt.Errorf("lifetime %s: want at least %s", o.Lifetime, minLifetime))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, errors.Join(errs...)
}

// ContainerName is the name of a lab's data-plane container.
func ContainerName(lab string) string { return "nodelab-" + lab + "-nlb-dataplane" }

// runArgs is the docker run of the data-plane container: NET_ADMIN for its
// routes only, sleep as the whole workload, --rm so that it is gone when the
// lifetime ends, and never a pull (there is no registry in the lab).
func runArgs(o Options) []string {
	return []string{
		"run", "-d", "--rm", "--pull", "never",
		"--name", ContainerName(o.Lab),
		"--label", LabelLab + "=" + o.Lab,
		"--label", LabelRole + "=" + roleValue,
		"--network", o.Network,
		"--cap-add", "NET_ADMIN",
		"--entrypoint", "sleep",
		o.Image, strconv.Itoa(int(o.Lifetime / time.Second)),
	}
}

// routeArgs is the docker exec that adds r in container id; replace makes
// it idempotent.
func routeArgs(id string, r Route) []string {
	return []string{"exec", id, "ip", "route", "replace", r.Prefix.String(), "via", r.Via.String()}
}

// labelFilters select the data-plane containers of a lab.
func labelFilters(lab string) []string {
	return []string{"--filter", "label=" + LabelLab + "=" + lab, "--filter", "label=" + LabelRole + "=" + roleValue}
}

// DataPlane is a running data-plane container and the handle on its network
// namespace that Dial joins. Its methods are safe for concurrent use.
type DataPlane struct {
	id, name string
	pid      int
	addr     netip.Addr
	log      *slog.Logger

	mu      sync.RWMutex
	nsFD    int // -1 once closed
	removed bool
}

// Start runs a lab's data-plane container on opts.Network, adds opts.Routes
// in it and opens its network namespace for Dial. A container of the same
// lab left by a crashed run is removed first. On failure nothing is left
// running.
func Start(ctx context.Context, opts Options) (*DataPlane, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start NLB data plane: %w", err)
	}
	name := ContainerName(o.Lab)
	if err := preflight(ctx, o); err != nil {
		return nil, fmt.Errorf("start NLB data plane %s: %w", name, err)
	}
	if err := removeLeftover(ctx, name, o.Lab); err != nil {
		return nil, fmt.Errorf("start NLB data plane %s: %w", name, err)
	}
	id, err := dockercli.Run(ctx, runArgs(o)...)
	if err != nil {
		// docker run can fail after creating the container.
		_ = removeLeftover(context.WithoutCancel(ctx), name, o.Lab)
		return nil, fmt.Errorf("start NLB data plane %s: %w", name, err)
	}
	d := &DataPlane{id: id, name: name, log: o.Logger, nsFD: -1}
	if err := d.setup(ctx, o); err != nil {
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
		defer cancel()
		if cerr := d.Close(rmCtx); cerr != nil {
			return nil, fmt.Errorf("start NLB data plane %s: %w; and removing it failed, remove it with `docker rm -f %s`: %w", name, err, name, cerr)
		}
		return nil, fmt.Errorf("start NLB data plane %s (container removed): %w", name, err)
	}
	o.Logger.Info("NLB data plane started", "container", name, "addr", d.addr, "pid", d.pid, "routes", len(o.Routes))
	return d, nil
}

// preflight turns the two usual causes of a failed docker run into advice.
func preflight(ctx context.Context, o Options) error {
	if _, err := dockercli.Run(ctx, "image", "inspect", "--format", "{{.Id}}", o.Image); err != nil {
		if errors.Is(err, dockercli.ErrNoDocker) {
			return err
		}
		return fmt.Errorf("image %s is not local (it is never pulled): pass the lab's node image: %w", o.Image, err)
	}
	if _, err := dockercli.Run(ctx, "network", "inspect", "--format", "{{.Id}}", o.Network); err != nil {
		return fmt.Errorf("docker network %s not found: create the lab first (`nodelab up`): %w", o.Network, err)
	}
	return nil
}

// removeLeftover removes the container called name if it is lab's data
// plane, and refuses to touch a container of that name nodelab did not make.
func removeLeftover(ctx context.Context, name, lab string) error {
	labels, err := dockercli.Run(ctx, "container", "inspect", "--format",
		`{{index .Config.Labels "`+LabelLab+`"}}/{{index .Config.Labels "`+LabelRole+`"}}`, name)
	if dockercli.IsNoSuchContainer(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for a leftover data-plane container: %w", err)
	}
	if labels != lab+"/"+roleValue {
		return fmt.Errorf("a container named %s exists that is not this lab's data plane (labels %s=%s): remove or rename it", name, LabelLab, strings.Split(labels, "/")[0])
	}
	if _, err := dockercli.Run(ctx, "rm", "-f", "-v", name); err != nil && !dockercli.IsNoSuchContainer(err) {
		return fmt.Errorf("remove the leftover data-plane container of a previous run: %w", err)
	}
	return nil
}

// setup adds the routes, reads the PID and address and opens the network
// namespace: everything after docker run.
func (d *DataPlane) setup(ctx context.Context, o Options) error {
	for _, r := range o.Routes {
		if _, err := dockercli.Run(ctx, routeArgs(d.id, r)...); err != nil {
			return fmt.Errorf("add route %s: check that %s is a node IP on docker network %s and that image %s has iproute2: %w", r, r.Via, o.Network, o.Image, err)
		}
		d.log.Debug("NLB data plane route", "route", r.String())
	}
	out, err := dockercli.Run(ctx, "container", "inspect", "--format", "{{.State.Pid}} {{json .NetworkSettings.Networks}}", d.id)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	pid, addr, err := parseInspect(out, o.Network)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	d.pid, d.addr = pid, addr
	fd, err := openNetns(pid)
	if err != nil {
		return err
	}
	d.nsFD = fd
	// Fail here, not at the first health check, when setns is not allowed.
	return inNetns(fd, func() error { return nil })
}

// parseInspect reads "<pid> <networks JSON>" from docker inspect.
func parseInspect(out, network string) (int, netip.Addr, error) {
	pidText, netsJSON, _ := strings.Cut(out, " ")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return 0, netip.Addr{}, fmt.Errorf("container is not running (pid %q): it exits at once if image has no sleep", pidText)
	}
	var nets map[string]struct{ IPAddress string }
	if err := json.Unmarshal([]byte(netsJSON), &nets); err != nil {
		return 0, netip.Addr{}, fmt.Errorf("decode networks: %w", err)
	}
	n, ok := nets[network]
	if !ok {
		return 0, netip.Addr{}, fmt.Errorf("container is not on docker network %s", network)
	}
	addr, err := netip.ParseAddr(n.IPAddress)
	if err != nil {
		return 0, netip.Addr{}, fmt.Errorf("no IPv4 address on docker network %s (%q)", network, n.IPAddress)
	}
	return pid, addr, nil
}

// Addr is the data plane's IPv4 address on the lab's docker network: the
// source address targets see.
func (d *DataPlane) Addr() netip.Addr { return d.addr }

// PID is the host PID of the container's process, whose network namespace
// Dial joins.
func (d *DataPlane) PID() int { return d.pid }

// Close releases the network namespace and removes the container by ID.
// Dials after Close fail; closing again does nothing.
func (d *DataPlane) Close(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nsFD >= 0 {
		closeFD(d.nsFD)
		d.nsFD = -1
	}
	if d.removed {
		return nil
	}
	if _, err := dockercli.Run(ctx, "rm", "-f", "-v", d.id); err != nil && !dockercli.IsNoSuchContainer(err) {
		return fmt.Errorf("remove NLB data plane %s: %w", d.name, err)
	}
	d.removed = true
	d.log.Info("NLB data plane removed", "container", d.name)
	return nil
}

// Remove removes the data-plane container of lab, if any, by its labels:
// what `nodelab down` calls, for a run that crashed before Close.
func Remove(ctx context.Context, lab string) error {
	args := append([]string{"ps", "-aq", "--no-trunc"}, labelFilters(lab)...)
	out, err := dockercli.Run(ctx, args...)
	if err != nil {
		return fmt.Errorf("remove NLB data plane of lab %s: list containers: %w", lab, err)
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return nil
	}
	if _, err := dockercli.Run(ctx, append([]string{"rm", "-f", "-v"}, ids...)...); err != nil && !dockercli.IsNoSuchContainer(err) {
		return fmt.Errorf("remove NLB data plane of lab %s: %w", lab, err)
	}
	return nil
}
