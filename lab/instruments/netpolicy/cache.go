package netpolicy

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab"
)

// Cached returns the verdict of an earlier successful Probe of the same
// cluster, or runs Probe and remembers its verdict. A cluster is the lab's
// name and its kube-system namespace's UID, so a lab re-created under the
// same name is probed again. Concurrent callers for one cluster wait for a
// single probe (or for their context); a failed probe is not remembered.
func Cached(ctx context.Context, l *lab.Lab, opts ProbeOptions) (Verdict, error) {
	key, err := cacheKey(ctx, l)
	if err != nil {
		return Verdict{}, err
	}
	return verdicts.get(ctx, key, func() (Verdict, error) { return Probe(ctx, l, opts) })
}

func cacheKey(ctx context.Context, l *lab.Lab) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, keyTimeout)
	defer cancel()
	ns, err := l.Client.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("identify lab %s for the NetworkPolicy verdict cache: get namespace %s: %w", l.Name, metav1.NamespaceSystem, err)
	}
	return l.Name + "/" + string(ns.UID), nil
}

// verdicts is the process-wide cache of Cached.
var verdicts = &cache{entries: map[string]*entry{}}

// cache maps a cluster key to its verdict.
type cache struct {
	mu      sync.Mutex
	entries map[string]*entry
}

// entry is one cluster's verdict; sem, a one-slot semaphore, is held by
// the caller that probes, so the others can give up on their context.
type entry struct {
	sem  chan struct{}
	done bool
	v    Verdict
}

// get returns key's verdict, running probe when it has none yet.
func (c *cache) get(ctx context.Context, key string, probe func() (Verdict, error)) (Verdict, error) {
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		e = &entry{sem: make(chan struct{}, 1)}
		c.entries[key] = e
	}
	c.mu.Unlock()

	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return Verdict{}, fmt.Errorf("wait for another NetworkPolicy probe of %s: %w", key, context.Cause(ctx))
	}
	defer func() { <-e.sem }()
	if e.done {
		return e.v, nil
	}
	v, err := probe()
	if err != nil {
		return v, err
	}
	e.v, e.done = v, true
	return v, nil
}

// Forget drops l's cached verdict (after an enforcer was installed), so the
// next Cached probes again.
func Forget(ctx context.Context, l *lab.Lab) error {
	key, err := cacheKey(ctx, l)
	if err != nil {
		return err
	}
	verdicts.mu.Lock()
	delete(verdicts.entries, key)
	verdicts.mu.Unlock()
	return nil
}
