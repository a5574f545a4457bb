// Package meminfo parses /proc/meminfo, the file `free` and `top` read. In
// a container it still describes the whole host (the kernel does not
// namespace it), which is the pitfall scenario cgroup-accounting shows.
package meminfo

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Info holds the fields of /proc/meminfo in bytes, keyed by name
// ("MemTotal", "MemAvailable", ...).
type Info map[string]uint64

// Parse reads /proc/meminfo's text; "kB" values are KiB (the kernel's kB is
// 1024 bytes).
func Parse(text string) (Info, error) {
	info := Info{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("meminfo %s: %q is not a number", name, f[0])
		}
		if len(f) > 1 && f[1] == "kB" {
			v *= 1024
		}
		info[name] = v
	}
	if _, ok := info["MemTotal"]; !ok {
		return nil, fmt.Errorf("no MemTotal line: not /proc/meminfo")
	}
	return info, nil
}

// Host reads this machine's /proc/meminfo.
func Host() (Info, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	return Parse(string(b))
}
