package report

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// KindLogsBytes caps kind's log export ($ARTIFACTS/kind-logs), which is
// written once per suite when anything failed. A 2-node lab's export
// measured ~3 MB here; the cap only bites on long runs with chatty nodes.
const KindLogsBytes = 32 << 20

// TrimNote is the file CapTree writes into a folder it trimmed.
const TrimNote = "nodelab-trimmed.txt"

// CapTree bounds the files under dir to maxBytes in total by cutting the
// head of the largest files (every file over one common size keeps its
// last that-many bytes), so logs keep their tail. It returns the sizes
// before and after and, when it cut anything, lists the cut files in
// TrimNote.
func CapTree(dir string, maxBytes int64) (before, after int64, err error) {
	type file struct {
		path string
		size int64
	}
	var files []file
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, file{p, info.Size()})
		before += info.Size()
		return nil
	})
	if err != nil || before <= maxBytes {
		return before, before, err
	}
	// The largest per-file size c with sum(min(size, c)) <= maxBytes.
	sizes := make([]int64, len(files))
	for i, f := range files {
		sizes[i] = f.size
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	var limit, below int64
	for i, s := range sizes {
		rest := int64(len(sizes) - i)
		if below+s*rest > maxBytes {
			limit = (maxBytes - below) / rest
			break
		}
		below += s
	}
	var cut []string
	after = 0
	for _, f := range files {
		if f.size <= limit {
			after += f.size
			continue
		}
		if err := keepTail(f.path, f.size, limit); err != nil {
			return before, 0, fmt.Errorf("trim %s: %w", f.path, err)
		}
		rel, _ := filepath.Rel(dir, f.path)
		cut = append(cut, fmt.Sprintf("%s: %d of %d bytes kept (the tail)", rel, limit, f.size))
		after += limit
	}
	note := fmt.Sprintf("nodelab cut this folder from %d to %d bytes (cap %d): every file over %d bytes keeps its last %d bytes.\n%s\n",
		before, after, maxBytes, limit, limit, strings.Join(cut, "\n"))
	return before, after, os.WriteFile(filepath.Join(dir, TrimNote), []byte(note), 0o644)
}

func keepTail(path string, size, keep int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	buf := make([]byte, keep)
	_, err = f.ReadAt(buf, size-keep)
	f.Close()
	if err != nil {
		return err
	}
	return os.WriteFile(path, buf, 0o644)
}
