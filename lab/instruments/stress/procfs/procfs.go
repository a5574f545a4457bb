// Package procfs reads the few facts about local processes that nodelab's
// stress helpers and their tests need from /proc: parent, state, start time
// (to tell a process from a later one that reuses its PID), children and
// resident memory.
//
// It reads the /proc of the calling process's mount namespace, so PIDs are
// those of that /proc's pid namespace.
package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Stat is the part of /proc/<pid>/stat that identifies a process.
type Stat struct {
	// PID is the process ID.
	PID int
	// Comm is the command name (at most 15 bytes, from the kernel).
	Comm string
	// State is the one-letter state: R, S, D, Z (zombie), ...
	State byte
	// PPID is the parent's process ID.
	PPID int
	// StartTime is the start time in clock ticks after boot; with PID it
	// names one process for good.
	StartTime uint64
}

// ReadStat reads /proc/<pid>/stat. A missing process gives an error that
// matches fs.ErrNotExist.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	return ParseStat(string(b))
}

// ParseStat parses the text of a /proc/<pid>/stat file. The command name is
// taken between the first '(' and the last ')', since it may itself contain
// spaces and parentheses.
func ParseStat(s string) (Stat, error) {
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 1 || closing < open {
		return Stat{}, fmt.Errorf("parse stat %q: no (comm)", s)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat %q: pid: %w", s, err)
	}
	// Fields after comm: state(3) ppid(4) ... starttime(22), 1-based as in proc(5).
	rest := strings.Fields(s[closing+1:])
	if len(rest) < 20 || len(rest[0]) != 1 {
		return Stat{}, fmt.Errorf("parse stat %q: too few fields", s)
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat %q: ppid: %w", s, err)
	}
	start, err := strconv.ParseUint(rest[19], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("parse stat %q: starttime: %w", s, err)
	}
	return Stat{PID: pid, Comm: s[open+1 : closing], State: rest[0][0], PPID: ppid, StartTime: start}, nil
}

// Running reports whether the process s still exists and is not a zombie.
// A PID now used by another process (other start time) counts as gone.
func Running(s Stat) (bool, error) {
	now, err := ReadStat(s.PID)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return now.StartTime == s.StartTime && now.State != 'Z', nil
}

// Children returns the processes whose parent is ppid, by scanning /proc
// (the per-thread /proc/<pid>/task/<tid>/children files need
// CONFIG_PROC_CHILDREN and list only one thread's children). Processes
// that exit during the scan are skipped.
func Children(ppid int) ([]Stat, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list children of %d: %w", ppid, err)
	}
	var out []Stat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := ReadStat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		if s.PPID == ppid {
			out = append(out, s)
		}
	}
	return out, nil
}

// VmRSS returns the resident set size of pid, in bytes, from the VmRSS line
// of /proc/<pid>/status.
func VmRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read VmRSS of pid %d: %w", pid, err)
	}
	n, err := StatusBytes(string(b), "VmRSS")
	if err != nil {
		return 0, fmt.Errorf("read VmRSS of pid %d: %w", pid, err)
	}
	return n, nil
}

// StatusBytes returns a "Key:   N kB" field of a /proc/<pid>/status text,
// in bytes.
func StatusBytes(status, key string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("field %s: want \"N kB\", got %q", key, v)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %s: %w", key, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s field (kernel threads and zombies have none)", key)
}
