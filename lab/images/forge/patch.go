package forge

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sourcePatch is one edit the forge makes to its copy of an upstream
// module: old must appear exactly once in file (relative to the module
// root) and becomes new. Patches are few, listed beside their recipe with
// the reason, and part of the step's inputs key.
type sourcePatch struct{ file, old, new string }

// applyPatches applies patches to the module copy at src. A file that
// already holds a patch's new text is left as it is (the copy is kept
// between runs); any other mismatch fails loudly, so an upstream change
// never silently builds unpatched code.
func applyPatches(src string, patches []sourcePatch) error {
	for _, p := range patches {
		path := filepath.Join(src, p.file)
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("patch %s: %w", p.file, err)
		}
		text := string(b)
		// Applied already: the new text is there and every old text sits
		// inside one (a patch's new text may contain its old text, as an
		// added import line does).
		applied := strings.Contains(text, p.new) &&
			strings.Count(text, p.old) == strings.Count(text, p.new)*strings.Count(p.new, p.old)
		switch {
		case applied:
			continue
		case strings.Count(text, p.old) == 1:
			text = strings.Replace(text, p.old, p.new, 1)
		default:
			return fmt.Errorf("patch %s: the text to replace is not there exactly once (did the module change?): %q", p.file, p.old)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return fmt.Errorf("patch %s: %w", p.file, err)
		}
	}
	return nil
}
