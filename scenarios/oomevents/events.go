package oomevents

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// EventLine is one exported event, written as one JSON line: what an event
// exporter to stdout writes and a log query (the seed's Loki
// `count_over_time({...} |= "OOMKilling" [1m])`) counts. Seen is when the
// exporter wrote it (the log line's own timestamp, which such a query
// buckets by), on this host's clock; Time is the event's.
type EventLine struct {
	Seen      time.Time `json:"seen"`
	Time      time.Time `json:"time"`
	Namespace string    `json:"namespace"`
	Object    string    `json:"object"` // Kind/name
	Reason    string    `json:"reason"`
	Type      string    `json:"type"`
	Source    string    `json:"source"` // reporting component
	Count     int32     `json:"count"`
	Message   string    `json:"message"`
}

// eventTime is when the event last happened.
func eventTime(e *corev1.Event) time.Time {
	for _, t := range []time.Time{e.LastTimestamp.Time, e.EventTime.Time, e.FirstTimestamp.Time, e.CreationTimestamp.Time} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func lineOf(e *corev1.Event) EventLine {
	src := e.ReportingController
	if src == "" {
		src = e.Source.Component
	}
	count := e.Count
	if count == 0 {
		count = 1
	}
	return EventLine{Seen: time.Now(), Time: eventTime(e), Namespace: e.Namespace, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
		Reason: e.Reason, Type: e.Type, Source: src, Count: count, Message: e.Message}
}

// exporter is the scenario's event exporter: no maintained exporter
// downloads from the module proxy here (resmoio's and opsgenie's
// kubernetes-event-exporter answer 403), so it is the Kubernetes events
// API with a watch, per namespace, writing one JSON line per event seen
// (an event seen again with a higher count is a new line, as exporters do).
type exporter struct {
	mu    sync.Mutex
	lines [][]byte
	errs  []string
	// seen is the count last written per event UID, shared by the
	// watches (an event can match more than one).
	seen map[string]int32

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// exportSpec is one watch: a namespace and an optional field selector.
type exportSpec struct {
	Namespace string
	Selector  fields.Selector
}

func startExporter(ctx context.Context, cs kubernetes.Interface, specs ...exportSpec) *exporter {
	ctx, cancel := context.WithCancel(ctx)
	x := &exporter{cancel: cancel, seen: map[string]int32{}}
	for _, s := range specs {
		x.done.Add(1)
		go func() {
			defer x.done.Done()
			x.run(ctx, cs, s)
		}()
	}
	return x
}

// run lists then watches, again after the server closes the watch, until
// ctx ends. What the first list returns happened before the exporter
// started and is not written (decided by UID, not by clocks).
func (x *exporter) run(ctx context.Context, cs kubernetes.Interface, s exportSpec) {
	opts := metav1.ListOptions{}
	if s.Selector != nil {
		opts.FieldSelector = s.Selector.String()
	}
	first := true
	for ctx.Err() == nil {
		list, err := cs.CoreV1().Events(s.Namespace).List(ctx, opts)
		if err != nil {
			x.fail(ctx, "list events in %q: %v", s.Namespace, err)
			continue
		}
		for i := range list.Items {
			x.write(&list.Items[i], first)
		}
		first = false
		wopts := opts
		wopts.ResourceVersion = list.ResourceVersion
		w, err := cs.CoreV1().Events(s.Namespace).Watch(ctx, wopts)
		if err != nil {
			x.fail(ctx, "watch events in %q: %v", s.Namespace, err)
			continue
		}
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Added, watch.Modified:
				if e, ok := ev.Object.(*corev1.Event); ok {
					x.write(e, false)
				}
			case watch.Error:
				x.record("watch events in %q: %v", s.Namespace, apierrors.FromObject(ev.Object))
			}
		}
		w.Stop()
		// A watch the server keeps closing at once is relisted at most
		// once per Poll.
		x.pause(ctx)
	}
}

func (x *exporter) record(format string, args ...any) {
	x.mu.Lock()
	x.errs = append(x.errs, fmt.Sprintf(format, args...))
	x.mu.Unlock()
}

func (x *exporter) pause(ctx context.Context) {
	t := time.NewTimer(Timeouts.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (x *exporter) fail(ctx context.Context, format string, args ...any) {
	if ctx.Err() != nil {
		return
	}
	x.record(format, args...)
	x.pause(ctx)
}

// write adds the event's line unless that count was written already;
// skip only marks it seen.
func (x *exporter) write(e *corev1.Event, skip bool) {
	l := lineOf(e)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.seen[string(e.UID)] >= l.Count {
		return
	}
	x.seen[string(e.UID)] = l.Count
	if skip {
		return
	}
	b, err := json.Marshal(l)
	if err != nil {
		x.errs = append(x.errs, fmt.Sprintf("encode event %s: %v", e.Name, err))
		return
	}
	x.lines = append(x.lines, b)
}

// stop ends the watches.
func (x *exporter) stop() {
	x.cancel()
	x.done.Wait()
}

// Log returns the JSON lines written so far.
func (x *exporter) Log() [][]byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.lines)
}

// Errors returns the watch errors seen so far.
func (x *exporter) Errors() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.errs)
}

// Query parses the exporter's log and returns the lines with one of the
// reasons (all when none) written in [from, to).
func Query(log [][]byte, from, to time.Time, reasons ...string) ([]EventLine, error) {
	var out []EventLine
	for _, b := range log {
		var l EventLine
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("exporter line %q: %w", b, err)
		}
		if l.Seen.Before(from) || !l.Seen.Before(to) {
			continue
		}
		if len(reasons) == 0 || slices.Contains(reasons, l.Reason) {
			out = append(out, l)
		}
	}
	return out, nil
}

// PerMinute counts lines per reason and minute of their log timestamp, as
// the seed's log query does ("15:04 OOMKilling 2, ..."); each repeat of an
// event (its count going up) counts once.
func PerMinute(lines []EventLine) string {
	type key struct{ minute, reason string }
	counts := map[key]int{}
	var keys []key
	for _, l := range lines {
		k := key{l.Seen.UTC().Format("15:04"), l.Reason}
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.minute+a.reason, b.minute+b.reason) })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s %d", k.minute, k.reason, counts[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
