package report

import (
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// row is one spec in the summary.
type row struct {
	Scenario, Text, State, Class, Duration, Message string
	Bundle                                          string
	Plots                                           []plotRef
	Files                                           []string
}

type plotRef struct{ SVG, PNG, Title string }

type page struct {
	Generated     string
	Facts         [][2]string
	Rows          []row
	Passed, Total int
	Failed        int
	Skipped       int
}

var pageTmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>nodelab e2e report</title>
<style>
body{font-family:sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left;vertical-align:top}
.passed{color:#080;font-weight:bold}.failed{color:#c00;font-weight:bold}.skipped{color:#888}
pre{white-space:pre-wrap;margin:.3em 0;font-size:.85em}
img{max-width:100%;border:1px solid #eee;margin:.3em 0}
.facts td{border:none;padding:.1em .6em;font-size:.9em}
</style></head><body>
<h1>nodelab e2e report</h1>
<p>{{.Passed}} passed, {{.Failed}} failed, {{.Skipped}} skipped of {{.Total}} specs; generated {{.Generated}}.</p>
<table class="facts">{{range .Facts}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</table>
<table>
<tr><th>scenario</th><th>spec</th><th>outcome</th><th>duration</th></tr>
{{range .Rows}}<tr>
<td>{{.Scenario}}</td>
<td>{{.Text}}
{{if .Message}}<pre>{{.Message}}</pre>{{end}}
{{if .Bundle}}<div><a href="{{.Bundle}}">failure bundle</a></div>{{end}}
{{range .Plots}}<div><img src="{{.SVG}}" alt="{{.Title}}"><br><a href="{{.PNG}}">PNG</a></div>{{end}}
{{range .Files}}<div><a href="{{.}}">{{.}}</a></div>{{end}}
</td>
<td class="{{.Class}}">{{.State}}</td><td>{{.Duration}}</td>
</tr>{{end}}
</table></body></html>
`))

// WriteHTML writes artifacts/report/index.html: one row per spec with its
// outcome, duration, skip or failure message, plots of its timelines
// (rendered now as SVG and PNG next to the timeline file) and links to its
// bundle and attached files. Links are relative, so the folder can be
// moved or uploaded as a CI artifact.
func WriteHTML(r types.Report, artifacts string) (string, error) {
	out := filepath.Join(artifacts, "report", "index.html")
	pg := page{Generated: time.Now().UTC().Format(time.RFC3339)}
	facts := LabFacts(r)
	keys := make([]string, 0, len(facts))
	for k := range facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pg.Facts = append(pg.Facts, [2]string{k, facts[k]})
	}
	rel := func(p string) string { return filepath.ToSlash(filepath.Join("..", p)) }
	var errs []string
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt && !s.State.Is(types.SpecStateFailureStates) {
			continue
		}
		rw := row{Scenario: ScenarioID(s), Text: s.FullText(), State: s.State.String(), Duration: s.RunTime.Round(100 * time.Millisecond).String()}
		if rw.Text == "" {
			rw.Text = s.LeafNodeType.String()
		}
		switch {
		case s.State.Is(types.SpecStateFailureStates):
			rw.Class, rw.Message = "failed", s.Failure.Message
			pg.Failed++
		case s.State == types.SpecStateSkipped:
			rw.Class, rw.Message = "skipped", s.Failure.Message
			pg.Skipped++
		case s.State == types.SpecStatePassed:
			rw.Class = "passed"
			pg.Passed++
		}
		pg.Total++
		if _, err := os.Stat(filepath.Join(artifacts, SpecDir(s), "index.txt")); err == nil {
			rw.Bundle = rel(filepath.Join(SpecDir(s), "index.txt"))
		}
		for _, a := range Artifacts(s) {
			if strings.HasSuffix(a, ".timeline.json") {
				tl, err := timeline.ReadFile(filepath.Join(artifacts, a))
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				base := strings.TrimSuffix(a, ".json")
				if _, _, err := Plot(tl, filepath.Join(artifacts, base)); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				rw.Plots = append(rw.Plots, plotRef{SVG: rel(base + ".svg"), PNG: rel(base + ".png"), Title: tl.Title})
			}
			rw.Files = append(rw.Files, rel(a))
		}
		pg.Rows = append(pg.Rows, rw)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := pageTmpl.Execute(f, pg); err != nil {
		return "", fmt.Errorf("write %s: %w", out, err)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("report written, but: %s", strings.Join(errs, "; "))
	}
	return out, nil
}
