package memorypressure

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
	"github.com/nodelab/nodelab/lab/kubelet"
)

// Eviction is a pod the watch saw evicted.
type Eviction struct {
	Pod string
	// Seen is when the watch first saw the pod Failed with reason Evicted.
	Seen time.Time
	// Message is the kubelet's status message (names the resource and the
	// pod's usage against its request).
	Message string
}

// watch samples one node and one namespace every interval until stopped:
// the node's MemoryPressure condition and taint, evictions in order, and a
// memory timeline (node available vs the eviction threshold, each pod's
// working set).
type watch struct {
	r         *Runbook
	side      string // only pods with this nodelab.dev/side label count
	rec       *timeline.Recorder
	threshold float64 // MiB of memory.available at which the kubelet evicts

	mu        sync.Mutex
	evictions []Eviction
	pressure  bool // last MemoryPressure status seen
	sawCond   bool // MemoryPressure=True seen at least once
	sawTaint  bool // memory-pressure taint seen at least once
	errs      []string

	cancel context.CancelFunc
	done   chan struct{}
}

func (r *Runbook) startWatch(ctx context.Context, side, title string) *watch {
	ctx, cancel := context.WithCancel(ctx)
	w := &watch{
		r:         r,
		side:      side,
		rec:       timeline.NewRecorder(title, "MiB", time.Now()),
		threshold: float64(r.Threshold) / (1 << 20),
		cancel:    cancel,
		done:      make(chan struct{}),
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			w.sample(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the timeline.
func (w *watch) stop() *timeline.Timeline {
	w.cancel()
	<-w.done
	return w.rec.Build(timelineBucket, time.Now())
}

func (w *watch) mark(kind, text string) { w.rec.Mark(time.Now(), kind, text) }

func (w *watch) sample(ctx context.Context) {
	now := time.Now()
	cs := w.r.Lab.Client
	pods, err := cs.CoreV1().Pods(w.r.Namespace).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, p := range pods.Items {
			if p.Labels[labelSide] == w.side && p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted" {
				w.noteEviction(p, now)
			}
		}
	} else if ctx.Err() == nil {
		w.noteErr(fmt.Sprintf("list pods: %v", err))
	}
	if n, err := cs.CoreV1().Nodes().Get(ctx, w.r.Node, metav1.GetOptions{}); err == nil {
		w.noteNode(n, now)
	}
	if s, err := kubelet.ReadSummary(ctx, cs, w.r.Node); err == nil {
		if m := s.Node.Memory; m != nil && m.AvailableBytes != nil {
			// Headroom rather than memory.available itself (~24 GiB here):
			// the kubelet evicts when it goes below 0, and it shares the axis
			// with the pods' working sets.
			w.rec.Sample("node memory.available − threshold", now, float64(*m.AvailableBytes)/(1<<20)-w.threshold)
			w.rec.Sample("eviction at 0", now, 0)
		}
		for _, p := range s.Pods {
			if p.PodRef.Namespace == w.r.Namespace && strings.HasPrefix(p.PodRef.Name, w.side+"-") && p.Memory != nil && p.Memory.WorkingSetBytes != nil {
				w.rec.Sample("working set "+p.PodRef.Name, now, float64(*p.Memory.WorkingSetBytes)/(1<<20))
			}
		}
	}
}

func (w *watch) noteEviction(p corev1.Pod, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.evictions {
		if e.Pod == p.Name {
			return
		}
	}
	w.evictions = append(w.evictions, Eviction{Pod: p.Name, Seen: now, Message: p.Status.Message})
	w.rec.Mark(now, "evicted", p.Name)
	w.r.env.Logf("%s evicted at +%s: %s", p.Name, now.Sub(w.rec.Start()).Round(displayRound), p.Status.Message)
}

func (w *watch) noteNode(n *corev1.Node, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pressure := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeMemoryPressure {
			pressure = c.Status == corev1.ConditionTrue
		}
	}
	if pressure != w.pressure {
		w.rec.Mark(now, "condition", fmt.Sprintf("MemoryPressure=%v", pressure))
		w.r.env.Logf("node %s MemoryPressure=%v at +%s", n.Name, pressure, now.Sub(w.rec.Start()).Round(displayRound))
	}
	w.pressure = pressure
	w.sawCond = w.sawCond || pressure
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeMemoryPressure && t.Effect == corev1.TaintEffectNoSchedule {
			if !w.sawTaint {
				w.rec.Mark(now, "taint", t.Key)
			}
			w.sawTaint = true
		}
	}
}

func (w *watch) noteErr(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) < 5 {
		w.errs = append(w.errs, s)
	}
}

// Evictions returns the evictions seen so far, in order.
func (w *watch) Evictions() []Eviction {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.evictions)
}

// evictedAmong splits the evictions seen so far: the pods in want, in the
// order seen, and the others as "pod: message".
func (w *watch) evictedAmong(want []string) (got, others []string) {
	for _, e := range w.Evictions() {
		if slices.Contains(want, e.Pod) {
			got = append(got, e.Pod)
		} else {
			others = append(others, e.Pod+": "+e.Message)
		}
	}
	return got, others
}

// order is the evicted pods' names in the order seen.
func (w *watch) order() string {
	var names []string
	for _, e := range w.Evictions() {
		names = append(names, e.Pod)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " → ")
}

func (w *watch) sawPressure() (condition, taint bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sawCond, w.sawTaint
}
