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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// EventLine is one exported event, written as one JSON line: what an event
// exporter to stdout writes and a log query (the seed's Loki
// `count_over_time({...} |= "OOMKilling" [1m])`) counts.
type EventLine struct {
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
	return EventLine{Time: eventTime(e), Namespace: e.Namespace, Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
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
	x := &exporter{cancel: cancel}
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
// ctx ends. Events that happened before the exporter started are skipped.
func (x *exporter) run(ctx context.Context, cs kubernetes.Interface, s exportSpec) {
	started := time.Now().Add(-exporterSlack)
	opts := metav1.ListOptions{}
	if s.Selector != nil {
		opts.FieldSelector = s.Selector.String()
	}
	seen := map[string]int32{} // uid → count written
	for ctx.Err() == nil {
		list, err := cs.CoreV1().Events(s.Namespace).List(ctx, opts)
		if err != nil {
			x.fail(ctx, "list events in %q: %v", s.Namespace, err)
			continue
		}
		for i := range list.Items {
			x.write(&list.Items[i], started, seen)
		}
		wopts := opts
		wopts.ResourceVersion = list.ResourceVersion
		w, err := cs.CoreV1().Events(s.Namespace).Watch(ctx, wopts)
		if err != nil {
			x.fail(ctx, "watch events in %q: %v", s.Namespace, err)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			if e, ok := ev.Object.(*corev1.Event); ok {
				x.write(e, started, seen)
			}
		}
		w.Stop()
	}
}

func (x *exporter) fail(ctx context.Context, format string, args ...any) {
	if ctx.Err() != nil {
		return
	}
	x.mu.Lock()
	x.errs = append(x.errs, fmt.Sprintf(format, args...))
	x.mu.Unlock()
	t := time.NewTimer(Timeouts.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (x *exporter) write(e *corev1.Event, started time.Time, seen map[string]int32) {
	l := lineOf(e)
	if l.Time.Before(started) || seen[string(e.UID)] >= l.Count {
		return
	}
	seen[string(e.UID)] = l.Count
	b, err := json.Marshal(l)
	if err != nil {
		return
	}
	x.mu.Lock()
	x.lines = append(x.lines, b)
	x.mu.Unlock()
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
// reasons, in [from, to).
func Query(log [][]byte, from, to time.Time, reasons ...string) ([]EventLine, error) {
	var out []EventLine
	for _, b := range log {
		var l EventLine
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("exporter line %q: %w", b, err)
		}
		if l.Time.Before(from) || !l.Time.Before(to) {
			continue
		}
		if len(reasons) == 0 || slices.Contains(reasons, l.Reason) {
			out = append(out, l)
		}
	}
	return out, nil
}

// PerMinute counts lines per reason and wall-clock minute, as the seed's
// log query does ("15:04 OOMKilling 2, ..."); each repeat of an event (its
// count going up) counts once.
func PerMinute(lines []EventLine) string {
	type key struct{ minute, reason string }
	counts := map[key]int{}
	var keys []key
	for _, l := range lines {
		k := key{l.Time.UTC().Format("15:04"), l.Reason}
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
