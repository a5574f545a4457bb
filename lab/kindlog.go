package lab

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/nodelab/nodelab/lab/progress"
)

// kindLogger adapts kind's V-levelled logger: kind's phase lines
// (" • Preparing nodes 📦  ...", " ✓ Preparing nodes 📦") become progress
// steps with durations; everything else goes to slog.
type kindLogger struct {
	mu       sync.Mutex
	progress *progress.Reporter
	log      *slog.Logger
	current  *progress.Step
	title    string
}

func newKindLogger(p *progress.Reporter, log *slog.Logger) *kindLogger {
	return &kindLogger{progress: p, log: log}
}

func (k *kindLogger) Warn(message string) { k.log.Warn(strings.TrimSpace(message), "from", "kind") }
func (k *kindLogger) Warnf(format string, args ...interface{}) {
	k.Warn(fmt.Sprintf(format, args...))
}
func (k *kindLogger) Error(message string) { k.log.Error(strings.TrimSpace(message), "from", "kind") }
func (k *kindLogger) Errorf(format string, args ...interface{}) {
	k.Error(fmt.Sprintf(format, args...))
}

func (k *kindLogger) V(level kindlog.Level) kindlog.InfoLogger {
	return kindInfo{k: k, level: level}
}

// phase handles one V(0) line and reports whether it was a phase line.
func (k *kindLogger) phase(line string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(t, "• ") && strings.HasSuffix(t, "..."):
		k.title = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, "• "), "..."))
		k.current = k.progress.Start(k.title)
		return true
	case strings.HasPrefix(t, "✓ ") || strings.HasPrefix(t, "✗ "):
		if k.current != nil {
			var err error
			if strings.HasPrefix(t, "✗ ") {
				err = fmt.Errorf("failed")
			}
			_ = k.current.End(err)
			k.current = nil
		}
		return true
	}
	return false
}

// abort closes a phase that kind left open (an interrupted create).
func (k *kindLogger) abort(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil {
		_ = k.current.End(err)
		k.current = nil
	}
}

type kindInfo struct {
	k     *kindLogger
	level kindlog.Level
}

func (i kindInfo) Info(message string) {
	if i.level == 0 && i.k.phase(message) {
		return
	}
	i.k.log.Log(context.Background(), slog.LevelDebug-slog.Level(i.level), strings.TrimSpace(message), "from", "kind")
}
func (i kindInfo) Infof(format string, args ...interface{}) { i.Info(fmt.Sprintf(format, args...)) }
func (i kindInfo) Enabled() bool                            { return true }
