package ingressrollout

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab"
	"github.com/nodelab/nodelab/lab/dockercli"
	"github.com/nodelab/nodelab/lab/instruments/leakcheck"
	"github.com/nodelab/nodelab/lab/instruments/routes"
	"github.com/nodelab/nodelab/lab/nlbnet"
	"github.com/nodelab/nodelab/lab/wait"
)

// goroutineAllowance is how many more goroutines than Deploy found may
// run after cleanup: an NLB waits for all its goroutines in Close, but
// idle HTTP connections of the client-go and probe transports may linger
// briefly.
const goroutineAllowance = 40

// dataPlaneLeft fails when a data-plane container of this lab is left.
func (r *Runbook) dataPlaneLeft(ctx context.Context) error {
	if r.Lab.DockerAccess() != nil {
		return nil // no data plane could start: it needs Docker (startDataPlane)
	}
	out, err := dockercli.Run(ctx, "ps", "-a", "--filter", "label="+nlbnet.LabelLab+"="+r.Lab.Name,
		"--filter", "label="+nlbnet.LabelRole, "--format", "{{.Names}}")
	if err != nil {
		return err
	} else if out != "" {
		return fmt.Errorf("data-plane container left: %s", out)
	}
	return nil
}

// podRoutesLeft fails when the host routes a node's podCIDR.
func (r *Runbook) podRoutesLeft(ctx context.Context) error {
	if bad, err := hostPodRoutes(ctx, r.Lab); err != nil {
		return err
	} else if len(bad) > 0 {
		return fmt.Errorf("the host routes pod networks: %s", strings.Join(bad, "; "))
	}
	return nil
}

// listenersLeft fails for every NLB listener of this runbook that still
// accepts connections.
func (r *Runbook) listenersLeft(ctx context.Context) error {
	addrs := make([]string, 0, len(r.listens))
	for _, a := range r.listens {
		addrs = append(addrs, a.String())
	}
	var errs []error
	for _, a := range leakcheck.StillAccepting(ctx, r.env.Scaled(Timeouts.ListenerDial), addrs...) {
		errs = append(errs, fmt.Errorf("the NLB listener %s still accepts connections", a))
	}
	return errors.Join(errs...)
}

// goroutinesLeft fails when the goroutines do not come back near where
// Deploy found them; it returns ctx's error when ctx ends first.
func (r *Runbook) goroutinesLeft(ctx context.Context) (leak, ctxErr error) {
	timeout := r.env.Scaled(Timeouts.Goroutines)
	n, err := r.baseline.Settle(ctx, goroutineAllowance, wait.Within{
		What:    fmt.Sprintf("goroutines back to at most %d before deploy + %d", r.baseline.Goroutines, goroutineAllowance),
		Timeout: timeout, Poll: Timeouts.GoroutinePoll})
	if err == nil {
		return nil, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("wait for goroutines after cleanup: %w (last: %d goroutines, %d before deploy, allowance %d)", ctx.Err(), n, r.baseline.Goroutines, goroutineAllowance)
	}
	return fmt.Errorf("%d goroutines after cleanup, %d before deploy (allowance %d), still after %s", n, r.baseline.Goroutines, goroutineAllowance, timeout), nil
}

// hostPodRoutes lists host routes that overlap a node's podCIDR.
func hostPodRoutes(ctx context.Context, l *lab.Lab) ([]string, error) {
	nodes, err := l.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	host, err := routes.Host(ctx)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, n := range nodes.Items {
		if cidr, err := netip.ParsePrefix(n.Spec.PodCIDR); err == nil {
			bad = append(bad, routes.Overlapping(host, cidr)...)
		}
	}
	return bad, nil
}
