package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"

	"github.com/nodelab/nodelab/lab/images"
	"github.com/nodelab/nodelab/lab/profile"
	"github.com/nodelab/nodelab/lab/progress"
	"github.com/nodelab/nodelab/lab/wait"
)

// UpOptions configure Up.
type UpOptions struct {
	// Profile to create; validated by Up.
	Profile *profile.Profile
	// Retain keeps a half-built cluster after a failure (for debugging).
	Retain bool
	// StateDir holds lab records and kubeconfigs; default DefaultStateDir().
	StateDir string
	// Forge finds or builds the offline node image (imageSource forge/auto).
	Forge NodeImageForge
	// ReadyTimeout bounds the wait for all nodes Ready; default 5m.
	ReadyTimeout time.Duration
	// Progress gets one line per phase; Log gets details (both may be nil).
	Progress *progress.Reporter
	Log      *slog.Logger
}

func (o *UpOptions) defaults() {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = defaultReadyTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// ErrLabExists is wrapped by Up when a lab of that name exists with another
// profile, or a kind cluster of that name is not nodelab's.
var ErrLabExists = errors.New("lab exists")

// Up creates the profile's lab, or reuses it when a lab of that name exists
// and was created by nodelab from the same profile. It honours ctx: when ctx
// is cancelled or any phase fails, the half-built cluster, its kubeconfig and
// (if Up created it) the kind docker network are removed, unless Retain.
func Up(ctx context.Context, opts UpOptions) (l *Lab, err error) {
	opts.defaults()
	p := opts.Profile
	if p == nil {
		return nil, errors.New("up: no profile")
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("profile %s is invalid:\n%w", p.Name, err)
	}
	if err := CheckDocker(ctx); err != nil {
		return nil, err
	}
	kl := newKindLogger(opts.Progress, opts.Log)
	provider := cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kl))

	existing, err := provider.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	if slices.Contains(existing, p.Name) {
		return reuse(ctx, provider, opts)
	}
	// A record without a cluster is left over from an interrupted run whose
	// cleanup did not finish: nothing of it exists any more.
	_ = removeRecord(opts.StateDir, p.Name)

	cgroup, err := HostCgroupVersion(ctx)
	if err != nil {
		return nil, err
	}
	choice, err := ChooseNodeImage(ctx, p.ImageSource, p.NodeImage, opts.Forge)
	if err != nil {
		return nil, fmt.Errorf("choose node image: %w", err)
	}
	opts.Progress.Printf(" • Node image %s (%s)", choice.Image, choice.Reason)
	cfg, notes, err := KindConfig(p, KindConfigInput{NodeImage: choice.Image, CgroupVersion: cgroup})
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		opts.Progress.Printf(" • Note: %s", n)
	}

	rec := &Record{
		Name: p.Name, Phase: PhaseCreating, Profile: p, ProfileHash: p.Hash(),
		NodeImage: choice.Image, ImageSource: string(choice.Source), ImageReason: choice.Reason,
		Created: time.Now().UTC(), CreatedNetwork: !networkExists(ctx, kindNetwork),
		Kubeconfig: KubeconfigPath(opts.StateDir, p.Name),
	}
	// The record goes first: if this process dies mid-create, `nodelab down`
	// still knows the cluster is ours.
	if err := writeRecord(opts.StateDir, rec); err != nil {
		return nil, err
	}
	defer func() {
		if err == nil || opts.Retain {
			return
		}
		if cerr := cleanup(provider, opts.StateDir, rec); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up half-built lab %s: %w", p.Name, cerr))
		}
	}()

	if err := createCluster(ctx, provider, kl, cfg, rec.Kubeconfig); err != nil {
		return nil, fmt.Errorf("create lab %s: %w", p.Name, err)
	}
	rec.ControlPlaneID = containerID(ctx, p.Name+"-control-plane")
	rec.Phase = PhaseReady
	if err := writeRecord(opts.StateDir, rec); err != nil {
		return nil, err
	}
	l, err = open(rec, provider)
	if err != nil {
		return nil, err
	}
	step := opts.Progress.Start(fmt.Sprintf("Waiting for %d nodes Ready", p.WorkerCount()+1))
	if err := step.End(l.WaitNodesReady(ctx, p.WorkerCount()+1, opts.ReadyTimeout)); err != nil {
		return nil, err
	}
	if err := loadWorkloads(ctx, l, opts.Progress); err != nil {
		return nil, err
	}
	l.Created = true
	return l, nil
}

// loadWorkloads puts the workload images into the nodes of a forge lab,
// which cannot pull them.
func loadWorkloads(ctx context.Context, l *Lab, p *progress.Reporter) error {
	return l.LoadWorkloads(ctx, p)
}

// LoadWorkloads loads the workload images (agnhost) into the nodes of a lab
// whose nodes run the forge node image and cannot pull: a lab nodelab
// created, or an attached kind cluster on this host (NodeAccess) whose
// containers run nodelab's node image. Other labs pull them.
func (l *Lab) LoadWorkloads(ctx context.Context, p *progress.Reporter) error {
	if l.Image.Source != images.SourceForge || l.DockerAccess() != nil {
		return nil
	}
	var refs []string
	for _, im := range images.Workloads() {
		refs = append(refs, im.Forge)
	}
	step := p.Start(fmt.Sprintf("Loading %d workload images into the nodes", len(refs)))
	return step.End(l.LoadImages(ctx, refs...))
}

// createCluster runs kind's create, which takes no context: on cancellation
// the nodes are deleted under it (making it fail fast) and Up waits for it
// to return before cleaning up, so nothing it creates afterwards survives.
func createCluster(ctx context.Context, provider *cluster.Provider, kl *kindLogger, kcfg *v1alpha4.Cluster, kubeconfig string) error {
	done := make(chan error, 1)
	go func() {
		done <- provider.Create(kcfg.Name,
			cluster.CreateWithV1Alpha4Config(kcfg),
			cluster.CreateWithKubeconfigPath(kubeconfig),
			cluster.CreateWithRetain(false),
			cluster.CreateWithWaitForReady(0),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		)
	}()
	select {
	case err := <-done:
		if err != nil {
			kl.abort(err)
		}
		return err
	case <-ctx.Done():
		kl.abort(ctx.Err())
		// Pull the nodes out from under kind until it gives up. ctx is
		// done, so this wait runs on a context that is not.
		err := wait.Until(context.WithoutCancel(ctx), wait.Within{What: "kind create to stop", Timeout: createStopTimeout, Poll: createStopPoll}, func(g gomega.Gomega) {
			_ = provider.Delete(kcfg.Name, kubeconfig)
			// kind fails once its nodes are gone; that error says nothing new.
			g.Expect(done).To(gomega.Receive(), "kind create still running after its nodes were deleted")
		})
		if err != nil {
			return fmt.Errorf("interrupted: %w (kind create did not stop within %s: %w)", ctx.Err(), createStopTimeout, err)
		}
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
}

// reuse returns the existing lab when it is nodelab's and made from the
// same profile; otherwise it refuses and says what differs.
func reuse(ctx context.Context, provider *cluster.Provider, opts UpOptions) (*Lab, error) {
	p := opts.Profile
	rec, err := readRecord(opts.StateDir, p.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: a kind cluster named %q exists but nodelab did not create it: choose another lab name (profile `name:`) or delete it yourself with `kind delete cluster --name %s`", ErrLabExists, p.Name, p.Name)
	}
	if err != nil {
		return nil, err
	}
	if id := containerID(ctx, p.Name+"-control-plane"); rec.ControlPlaneID == "" || id != rec.ControlPlaneID {
		return nil, fmt.Errorf("%w: kind cluster %q does not match nodelab's record (phase %s): delete it with `nodelab down --name %s` and retry", ErrLabExists, p.Name, rec.Phase, p.Name)
	}
	if rec.ProfileHash != p.Hash() {
		diff := profile.Diff(rec.Profile, p)
		return nil, fmt.Errorf("%w: lab %q was created from a different profile:\n  %s\nrun `nodelab down --name %s` first, or give this profile another name", ErrLabExists, p.Name, strings.Join(diff, "\n  "), p.Name)
	}
	opts.Progress.Printf(" • Reusing lab %s (same profile, node image %s)", p.Name, rec.NodeImage)
	if err := provider.ExportKubeConfig(p.Name, rec.Kubeconfig, false); err != nil {
		return nil, fmt.Errorf("export kubeconfig of %s: %w", p.Name, err)
	}
	l, err := open(rec, provider)
	if err != nil {
		return nil, err
	}
	if err := l.WaitNodesReady(ctx, p.WorkerCount()+1, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	return l, loadWorkloads(ctx, l, opts.Progress)
}

func open(rec *Record, provider *cluster.Provider) (*Lab, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", rec.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", rec.Kubeconfig, err)
	}
	l, err := newLab(rec.Name, rec.Kubeconfig, cfg)
	if err != nil {
		return nil, err
	}
	l.Profile = rec.Profile
	l.Image = NodeImageChoice{Image: rec.NodeImage, Source: images.Source(rec.ImageSource), Reason: rec.ImageReason}
	l.provider, l.kindCluster = provider, rec.Name
	return l, nil
}

// cleanup deletes the lab's containers, kubeconfig, record and, when the lab
// created it and nothing else uses it, the kind network. It uses its own
// context: the caller's may already be cancelled.
func cleanup(provider *cluster.Provider, stateDir string, rec *Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	if err := provider.Delete(rec.Name, rec.Kubeconfig); err != nil {
		errs = append(errs, fmt.Errorf("delete kind cluster: %w", err))
	}
	if rec.CreatedNetwork {
		if err := removeNetworkIfEmpty(ctx, kindNetwork); err != nil {
			errs = append(errs, fmt.Errorf("remove docker network %s: %w", kindNetwork, err))
		}
	}
	if err := os.Remove(rec.Kubeconfig); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		errs = append(errs, removeRecord(stateDir, rec.Name))
	}
	return errors.Join(errs...)
}
