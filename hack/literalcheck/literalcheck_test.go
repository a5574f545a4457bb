// Package literalcheck holds a test that keeps literal durations out of call
// sites: in the non-test Go files of lab/ and scenarios/, a duration
// literal may only appear in files named timeouts.go, where each value has
// a name and a comment that says why it is that long (or in a Typical field
// of a scenario definition, a measured duration that nothing waits for).
//
// A duration literal is a basic literal multiplied by a time unit
// (time.Nanosecond .. time.Hour), such as 3*time.Minute or
// time.Duration(5)*time.Second, or a bare unit used as a value, such as
// const poll = time.Second. Not literals: a unit that converts a variable
// (time.Duration(n)*time.Second, d/time.Second, x*float64(time.Second)),
// and a bare unit passed to Round or Truncate, where it is the precision of
// a printed duration.
package literalcheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the repository, relative to this package; files are named
// relative to it.
const repoRoot = "../.."

// roots are the trees checked, relative to repoRoot.
var roots = []string{"lab", "scenarios"}

// exempt are files under the roots that keep their literals, each with why.
// Paths are relative to repoRoot.
var exempt = map[string]string{
	// A //go:build ignore recipe main that the forge embeds and builds as
	// its own module; its source is part of the crictl step's cache key, so
	// editing it (or adding a timeouts.go next to it) rebuilds every forged
	// crictl.
	"lab/images/forge/recipes/crictl/main.go": "forge recipe source, part of a build key",
}

// units are the time package's duration units.
var units = map[string]bool{
	"Nanosecond": true, "Microsecond": true, "Millisecond": true,
	"Second": true, "Minute": true, "Hour": true,
}

func TestNoDurationLiteralsOutsideTimeoutsGo(t *testing.T) {
	for path := range exempt {
		if _, err := os.Stat(filepath.Join(repoRoot, path)); err != nil {
			t.Errorf("exempt file %s: %v (drop it from exempt)", path, err)
		}
	}
	var found []string
	for _, root := range roots {
		err := filepath.WalkDir(filepath.Join(repoRoot, root), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			name := d.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || name == "timeouts.go" {
				return nil
			}
			rel, err := filepath.Rel(repoRoot, path)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if _, ok := exempt[rel]; ok {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			lits, err := literalsIn(rel, src)
			found = append(found, lits...)
			return err
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	if len(found) > 0 {
		t.Errorf("%d duration literals outside timeouts.go; name each in the package's timeouts.go with a comment that says why:\n%s",
			len(found), strings.Join(found, "\n"))
	}
}

func TestDurationLiteralsFindsWhatTheRuleNames(t *testing.T) {
	src := `package p

import tm "time"

const named = 3 * tm.Minute

var bare = tm.Second

func f(n int, secs float64, d tm.Duration) {
	_ = tm.Duration(n) * tm.Second
	_ = d / tm.Second
	_ = d.Round(tm.Second)
	_ = d.Round(100 * tm.Millisecond)
	_ = tm.Duration(5) * tm.Second
	_ = max(d, tm.Millisecond)
	_ = tm.Duration(secs * float64(tm.Second))
	_ = struct{ Typical, Timeout tm.Duration }{Typical: 40 * tm.Second, Timeout: 2 * tm.Minute}
}
`
	got, err := literalsIn("p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p.go:5: 3 * tm.Minute", "p.go:7: tm.Second", "p.go:13: 100 * tm.Millisecond",
		"p.go:14: tm.Duration(5) * tm.Second", "p.go:15: tm.Millisecond", "p.go:17: 2 * tm.Minute"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// literalsIn lists the duration literals of one file as file:line: expr;
// path names the file in the list.
func literalsIn(path string, src any) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	timePkg := ""
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == "time" {
			timePkg = "time"
			if im.Name != nil {
				timePkg = im.Name.Name
			}
		}
	}
	if timePkg == "" || timePkg == "_" {
		return nil, nil
	}
	isUnit := func(e ast.Expr) bool {
		s, ok := ast.Unparen(e).(*ast.SelectorExpr)
		if !ok || !units[s.Sel.Name] {
			return false
		}
		x, ok := s.X.(*ast.Ident)
		return ok && x.Name == timePkg
	}
	var out []string
	report := func(e ast.Expr) {
		out = append(out, fmt.Sprintf("%s:%d: %s", path, fset.Position(e.Pos()).Line, render(fset, e)))
	}
	// allowed holds units already judged as part of a larger expression.
	allowed := map[ast.Expr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.KeyValueExpr:
			// A scenario's or step's Typical is a measured duration, not
			// a timeout: it documents, nothing waits for it.
			if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Typical" {
				return false
			}
		case *ast.BinaryExpr:
			if n.Op != token.MUL && n.Op != token.QUO {
				return true
			}
			for _, pair := range [][2]ast.Expr{{n.X, n.Y}, {n.Y, n.X}} {
				unit, other := pair[0], pair[1]
				if c, ok := ast.Unparen(unit).(*ast.CallExpr); ok && len(c.Args) == 1 {
					unit = c.Args[0] // float64(time.Second)
				}
				if !isUnit(unit) {
					continue
				}
				allowed[ast.Unparen(unit)] = true
				if n.Op == token.MUL && isLiteral(other) {
					report(n)
				}
			}
		case *ast.CallExpr:
			if s, ok := n.Fun.(*ast.SelectorExpr); ok && (s.Sel.Name == "Round" || s.Sel.Name == "Truncate") && len(n.Args) == 1 && isUnit(n.Args[0]) {
				allowed[ast.Unparen(n.Args[0])] = true
			}
		case *ast.SelectorExpr:
			if isUnit(n) && !allowed[n] {
				report(n)
			}
		}
		return true
	})
	return out, nil
}

// isLiteral reports a number literal, possibly negated, parenthesised or
// converted (time.Duration(5), float64(1.5)).
func isLiteral(e ast.Expr) bool {
	switch e := ast.Unparen(e).(type) {
	case *ast.BasicLit:
		return true
	case *ast.UnaryExpr:
		return isLiteral(e.X)
	case *ast.CallExpr:
		return len(e.Args) == 1 && isLiteral(e.Args[0])
	}
	return false
}

func render(fset *token.FileSet, e ast.Expr) string {
	var b strings.Builder
	if err := printer.Fprint(&b, fset, e); err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return b.String()
}
