package nodeexec

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// OOMKill is one kill by the kernel's OOM killer, from the kernel log: the
// "oom-kill:" summary line (kernel ≥ 4.19) joined with the "Killed process"
// line that follows it.
type OOMKill struct {
	// At is the kernel log timestamp: seconds since boot.
	At float64
	// Constraint is CONSTRAINT_MEMCG when a memory cgroup's limit was hit,
	// CONSTRAINT_NONE when the whole machine was out of memory.
	Constraint string
	// OOMMemcg is the memory cgroup whose limit was hit (the one under
	// OOM); TaskMemcg is the victim's. Both are paths from the root of the
	// host's hierarchy, so on a kind node they start with the node
	// container's own cgroup (e.g. /docker/<id>).
	OOMMemcg, TaskMemcg string
	// Task and PID name the victim process.
	Task string
	PID  int
	// AnonRSSKiB and OOMScoreAdj come from the "Killed process" line (0
	// and false when the kernel printed none).
	AnonRSSKiB  int64
	OOMScoreAdj int
	HasScoreAdj bool
}

func (k OOMKill) String() string {
	adj := "?"
	if k.HasScoreAdj {
		adj = strconv.Itoa(k.OOMScoreAdj)
	}
	return fmt.Sprintf("[%.3f] %s pid %d (anon-rss %d KiB, oom_score_adj %s) in %s; limit hit: %s", k.At, k.Task, k.PID, k.AnonRSSKiB, adj, k.TaskMemcg, k.OOMMemcg)
}

// InMemcg reports whether the cgroup path p (as the kernel prints it)
// is the cgroup at path suffix (as the node sees it, e.g. a container's or
// the pods cgroup): equal, or ending with it after the node container's own
// prefix.
func InMemcg(p, suffix string) bool {
	suffix = "/" + strings.Trim(suffix, "/")
	return p == suffix || strings.HasSuffix(p, suffix)
}

var (
	kmsgLine     = regexp.MustCompile(`^\[\s*(\d+\.\d+)\]\s?(.*)$`)
	oomKillLine  = regexp.MustCompile(`^oom-kill:(.*)$`)
	killedLine   = regexp.MustCompile(`Killed process (\d+) \(([^)]*)\).*?anon-rss:(\d+)kB`)
	scoreAdjPart = regexp.MustCompile(`oom_score_adj:(-?\d+)`)
)

// maxKillLookahead bounds how far after an "oom-kill:" line its "Killed
// process" line is looked for.
const maxKillLookahead = 64

// BestEffort reports whether the victim was in a BestEffort pod: its
// oom_score_adj is 1000, or, on kernels that do not print it, its cgroup
// is under the kubelet's besteffort QoS cgroup.
func (k OOMKill) BestEffort() bool {
	if k.HasScoreAdj {
		return k.OOMScoreAdj == 1000
	}
	return strings.Contains(k.TaskMemcg, "besteffort")
}

// KernelLogLine is one line of the kernel log.
type KernelLogLine struct {
	At   float64
	Text string
}

// ParseKernelLog reads `dmesg` output ("[ seconds] text" per line); lines
// without a timestamp are skipped.
func ParseKernelLog(out string) []KernelLogLine {
	var lines []KernelLogLine
	for _, l := range strings.Split(out, "\n") {
		m := kmsgLine.FindStringSubmatch(strings.TrimRight(l, "\r"))
		if m == nil {
			continue
		}
		at, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		lines = append(lines, KernelLogLine{At: at, Text: m[2]})
	}
	return lines
}

// ParseOOMKills finds the OOM killer's kills in kernel log lines.
func ParseOOMKills(lines []KernelLogLine) []OOMKill {
	var kills []OOMKill
	for i, l := range lines {
		m := oomKillLine.FindStringSubmatch(l.Text)
		if m == nil {
			continue
		}
		k := OOMKill{At: l.At}
		for _, kv := range strings.Split(m[1], ",") {
			key, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			switch key {
			case "constraint":
				k.Constraint = v
			case "oom_memcg":
				k.OOMMemcg = v
			case "task_memcg":
				k.TaskMemcg = v
			case "task":
				k.Task = v
			case "pid":
				k.PID, _ = strconv.Atoi(v)
			}
		}
		// The "Killed process" line follows, maybe after other CPUs'
		// lines; look until the next kill's summary.
		for j := i + 1; j < len(lines) && j <= i+maxKillLookahead; j++ {
			if oomKillLine.MatchString(lines[j].Text) {
				break
			}
			km := killedLine.FindStringSubmatch(lines[j].Text)
			if km == nil {
				continue
			}
			if pid, _ := strconv.Atoi(km[1]); pid != k.PID {
				continue
			}
			k.AnonRSSKiB, _ = strconv.ParseInt(km[3], 10, 64)
			if sm := scoreAdjPart.FindStringSubmatch(lines[j].Text); sm != nil {
				k.OOMScoreAdj, _ = strconv.Atoi(sm[1])
				k.HasScoreAdj = true
			}
			break
		}
		kills = append(kills, k)
	}
	return kills
}

// ReadKernelLog runs dmesg on the node (the kernel log, which a kind node
// shares with the host and every other container on it). A log with
// lines but no timestamps (printk.time=0) is an error: kills could not be
// told apart in time.
func ReadKernelLog(ctx context.Context, node Node) ([]KernelLogLine, error) {
	out, err := Run(ctx, node, "dmesg")
	if err != nil {
		return nil, fmt.Errorf("read the kernel log on %s: %w", node, err)
	}
	lines := ParseKernelLog(out)
	if len(lines) == 0 && strings.TrimSpace(out) != "" {
		return nil, fmt.Errorf("the kernel log on %s has no timestamps (\"[seconds] text\" lines; printk.time=0?): %q", node, firstLine(out))
	}
	return lines, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
