package nodeexec

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"strings"
)

// ReadFile returns the contents of the file at path inside the node. A
// missing file gives an error that matches fs.ErrNotExist.
func ReadFile(ctx context.Context, node Node, path string) ([]byte, error) {
	files, err := ReadFiles(ctx, node, path)
	if err != nil {
		return nil, err
	}
	data, ok := files[path]
	if !ok {
		return nil, fmt.Errorf("read file on node %s: %w", node, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist})
	}
	return data, nil
}

// readFilesScript prints one line per argument: the file's contents in
// base64, or "-" when it does not exist or cannot be read. Base64 keeps any
// byte (and empty files) unambiguous, and one exec reads many files: each
// `docker exec` costs a tenth of a second or more on a small host.
const readFilesScript = `for f; do if [ -r "$f" ]; then base64 -w0 -- "$f" || exit 1; echo; else echo -; fi; done`

// ReadFiles reads several files inside the node with one command. The map
// holds the files that exist, keyed by the path asked for; missing files are
// absent, so callers decide which ones they need.
func ReadFiles(ctx context.Context, node Node, paths ...string) (map[string][]byte, error) {
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	out, err := Run(ctx, node, "sh", append([]string{"-c", readFilesScript, "sh"}, paths...)...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", strings.Join(paths, ", "), err)
	}
	files, err := parseReadFilesOutput(out, paths)
	if err != nil {
		return nil, fmt.Errorf("read files on node %s: %w", node, err)
	}
	return files, nil
}

// parseReadFilesOutput decodes readFilesScript's output.
func parseReadFilesOutput(out string, paths []string) (map[string][]byte, error) {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(paths) {
		return nil, fmt.Errorf("got %d lines of output for %d files; is base64 (coreutils) missing from the node image?", len(lines), len(paths))
	}
	files := make(map[string][]byte, len(paths))
	for i, line := range lines {
		if line == "-" {
			continue
		}
		data, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("decode contents of %s: %w", paths[i], err)
		}
		files[paths[i]] = data
	}
	return files, nil
}

// writeFileScript writes standard input to a temporary file next to the
// target and renames it into place, so a reader (the kubelet at start-up)
// never sees a half-written file.
const writeFileScript = `set -e; tmp="$1.nodelab-tmp"; cat >"$tmp"; chmod "$2" "$tmp"; mv -f "$tmp" "$1"`

// WriteFile replaces the file at path inside the node with data (mode in
// octal, e.g. 0o644), atomically.
func WriteFile(ctx context.Context, node Node, path string, data []byte, mode fs.FileMode) error {
	var stderr strings.Builder
	err := node.CommandContext(ctx, "sh", "-c", writeFileScript, "sh", path, fmt.Sprintf("%o", mode.Perm())).
		SetStdin(strings.NewReader(string(data))).SetStderr(&stderr).Run()
	if err != nil {
		return fmt.Errorf("write %s on node %s: %w: %s", path, node, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
