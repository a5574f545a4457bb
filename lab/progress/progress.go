// Package progress prints one status line per long step, the way kind does
// (" ✓ Creating nodes (38s)"). A nil *Reporter prints nothing, so libraries
// can take one without forcing output on their callers.
package progress

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Reporter writes step lines to a writer (stderr in the CLI).
type Reporter struct {
	mu     *sync.Mutex
	w      io.Writer
	now    func() time.Time
	prefix string
}

// New returns a Reporter that writes to w; a nil w gives a silent Reporter.
func New(w io.Writer) *Reporter {
	if w == nil {
		return nil
	}
	return &Reporter{mu: &sync.Mutex{}, w: w, now: time.Now}
}

// WithPrefix returns a Reporter on the same writer whose lines start with
// prefix (" • [background] Building ..."), for work that runs beside other
// steps. Both share one lock, so their lines never interleave mid-line.
func (r *Reporter) WithPrefix(prefix string) *Reporter {
	if r == nil {
		return nil
	}
	c := *r
	c.prefix = r.prefix + prefix
	return &c
}

// Step is one running step.
type Step struct {
	r     *Reporter
	title string
	start time.Time
}

// Start begins a step and prints its title.
func (r *Reporter) Start(title string) *Step {
	if r == nil {
		return &Step{title: title, start: time.Now()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, " • %s%s ...\n", r.prefix, title)
	return &Step{r: r, title: title, start: r.now()}
}

// End closes the step: ✓ on success, ✗ with the error otherwise. It returns
// err unchanged so callers can write `return step.End(err)`.
func (s *Step) End(err error) error {
	if s.r == nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	d := s.r.now().Sub(s.start).Round(precision)
	if err != nil {
		fmt.Fprintf(s.r.w, " ✗ %s%s (%s): %v\n", s.r.prefix, s.title, d, err)
		return err
	}
	fmt.Fprintf(s.r.w, " ✓ %s%s (%s)\n", s.r.prefix, s.title, d)
	return nil
}

// EndNote is End with a note after the duration on success
// (" ✓ Building etcd (41s; CPU 1m12s)"); an empty note is End.
func (s *Step) EndNote(err error, note string) error {
	if s.r == nil || err != nil || note == "" {
		return s.End(err)
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	d := s.r.now().Sub(s.start).Round(precision)
	fmt.Fprintf(s.r.w, " ✓ %s%s (%s; %s)\n", s.r.prefix, s.title, d, note)
	return nil
}

// Skip closes the step as not needed, with the reason (" - Building etcd: cached").
func (s *Step) Skip(reason string) {
	if s.r == nil {
		return
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	fmt.Fprintf(s.r.w, " - %s%s: %s\n", s.r.prefix, s.title, reason)
}

// Elapsed is the time since the step started.
func (s *Step) Elapsed() time.Duration { return time.Since(s.start) }

// Printf writes a free-form line (totals, hints).
func (r *Reporter) Printf(format string, args ...any) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "%s%s\n", r.prefix, fmt.Sprintf(format, args...))
}
