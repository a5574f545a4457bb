// Command stability writes the verdict matrix of repeated e2e runs: one row
// per spec, one column per run (pass, FAIL or skip, with its duration), and
// each failure's first line, so a spec whose verdict changes from run to run
// (a flake) is found before CI finds it. `make stability` runs the suite N
// times and calls it with the runs' artifact folders.
//
//	go run ./hack/stability -o matrix.md _artifacts/stability/run-*
//
// It exits 1 when a spec's verdict differs between runs (skips count: a
// skip must hold on every run of the same host), 0 otherwise.
package main

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	out := flag.String("o", "", "write the matrix (Markdown) here as well as to stdout")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: stability [-o matrix.md] RUN_DIR... (each holding junit_e2e.xml)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	runs, err := readRuns(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "stability:", err)
		os.Exit(2)
	}
	m := newMatrix(runs)
	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stability:", err)
			os.Exit(2)
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	m.write(w)
	if len(m.changed()) > 0 {
		os.Exit(1)
	}
}

// run is one e2e run: its folder and its specs by name.
type run struct {
	dir   string
	specs map[string]result
}

// result is one spec's outcome in one run.
type result struct {
	verdict string // pass, FAIL, skip
	seconds float64
	first   string // first line of the failure or skip message
}

type junit struct {
	Suites []struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Time    string `xml:"time,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readRuns(dirs []string) ([]run, error) {
	var runs []run
	var errs []error
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "junit_e2e.xml"))
		if err != nil {
			errs = append(errs, fmt.Errorf("run %s: %w (did the run reach ReportAfterSuite?)", d, err))
			continue
		}
		var j junit
		if err := xml.Unmarshal(raw, &j); err != nil {
			errs = append(errs, fmt.Errorf("run %s: junit_e2e.xml: %w", d, err))
			continue
		}
		r := run{dir: d, specs: map[string]result{}}
		for _, s := range j.Suites {
			for _, c := range s.Cases {
				// ginkgo's JUnit names specs "[It] container text [labels]";
				// suite nodes (BeforeSuite, ReportAfterSuite) count too.
				secs, _ := strconv.ParseFloat(c.Time, 64)
				res := result{verdict: "pass", seconds: secs}
				switch {
				case c.Failure != nil:
					res.verdict, res.first = "FAIL", firstLine(c.Failure.Message)
				case c.Error != nil:
					res.verdict, res.first = "FAIL", firstLine(c.Error.Message)
				case c.Skipped != nil:
					res.verdict, res.first = "skip", firstLine(strings.TrimPrefix(c.Skipped.Message, "skipped - "))
				}
				r.specs[c.Name] = res
			}
		}
		runs = append(runs, r)
	}
	return runs, errors.Join(errs...)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// matrix is every spec seen in any run, sorted, with its results.
type matrix struct {
	runs  []run
	specs []string
}

func newMatrix(runs []run) matrix {
	seen := map[string]bool{}
	var specs []string
	for _, r := range runs {
		for s := range r.specs {
			if !seen[s] {
				seen[s] = true
				specs = append(specs, s)
			}
		}
	}
	sort.Strings(specs)
	return matrix{runs: runs, specs: specs}
}

// changed lists the specs whose verdict is not the same in every run (a
// spec missing from a run counts as a change).
func (m matrix) changed() []string {
	var out []string
	for _, s := range m.specs {
		first, ok := m.runs[0].specs[s]
		for _, r := range m.runs[1:] {
			res, ok2 := r.specs[s]
			if ok != ok2 || res.verdict != first.verdict {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func (m matrix) write(w io.Writer) {
	fmt.Fprintf(w, "| spec |")
	for i := range m.runs {
		fmt.Fprintf(w, " run %d |", i+1)
	}
	fmt.Fprintf(w, "\n|---|")
	for range m.runs {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	changed := map[string]bool{}
	for _, s := range m.changed() {
		changed[s] = true
	}
	for _, s := range m.specs {
		name := strings.ReplaceAll(s, "|", `\|`)
		if changed[s] {
			name = "**CHANGED** " + name
		}
		fmt.Fprintf(w, "| %s |", name)
		for _, r := range m.runs {
			res, ok := r.specs[s]
			if !ok {
				fmt.Fprintf(w, " – |")
				continue
			}
			fmt.Fprintf(w, " %s %.0fs |", res.verdict, res.seconds)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	for i, r := range m.runs {
		for _, s := range m.specs {
			if res, ok := r.specs[s]; ok && res.verdict != "pass" && res.first != "" {
				fmt.Fprintf(w, "- run %d (%s), %s %s: %s\n", i+1, r.dir, res.verdict, s, res.first)
			}
		}
	}
	if c := m.changed(); len(c) > 0 {
		fmt.Fprintf(w, "\n%d spec(s) changed verdict between runs.\n", len(c))
	} else {
		fmt.Fprintf(w, "\nNo spec changed verdict over %d runs.\n", len(m.runs))
	}
}
