package catalog

import (
	"fmt"
	"strings"

	"github.com/nodelab/nodelab/scenarios"
)

// Markdown is the README's scenario table, made from the catalog
// (`nodelab scenarios --markdown`); a test keeps the README's copy current.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| ID | Labels | Steps | Typical | Summary |\n|---|---|---|---|---|\n")
	for _, s := range All() {
		labels := []string{"`" + s.Label() + "`"}
		for _, l := range s.Labels {
			labels = append(labels, "`"+string(l)+"`")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.ID, strings.Join(labels, " "), sides(s.Steps()), s.Typical, strings.ReplaceAll(s.Summary, "|", `\|`))
	}
	return b.String()
}

// sides counts the steps by side: "1 setup, 1 pitfall, 1 fix, 1 check".
func sides(rb scenarios.Runbook) string {
	n := map[scenarios.Side]int{}
	for _, st := range rb.Steps {
		n[st.Side]++
	}
	var out []string
	for _, side := range []scenarios.Side{scenarios.Setup, scenarios.Pitfall, scenarios.Fix, scenarios.Check} {
		if n[side] > 0 {
			out = append(out, fmt.Sprintf("%d %s", n[side], side))
		}
	}
	return strings.Join(out, ", ")
}
