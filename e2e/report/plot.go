package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/nodelab/nodelab/lab/instruments/timeline"
)

// seriesColors are distinguishable on white; "ok"-like series are green
// and failure-like ones red so a glance tells which is which.
var seriesColors = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, {R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, {R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
}

func colorFor(name string, i int) color.RGBA {
	switch n := strings.ToLower(name); {
	case n == "ok" || strings.HasPrefix(n, "ok ") || strings.Contains(n, "success"):
		return color.RGBA{G: 0x99, A: 0xff}
	case strings.Contains(n, "fail") || strings.Contains(n, "error") || strings.Contains(n, "refused") || strings.Contains(n, "reset") || strings.Contains(n, "timeout"):
		return color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	}
	return seriesColors[i%len(seriesColors)]
}

// Plot renders a timeline file as <base>.svg and <base>.png (x: seconds
// since the timeline's start; markers as labelled dashed vertical lines).
func Plot(tl *timeline.Timeline, base string) (svg, png string, err error) {
	p := plot.New()
	p.Title.Text = tl.Title
	p.X.Label.Text = "seconds since " + tl.Start.UTC().Format("15:04:05")
	p.Y.Label.Text = tl.YLabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	ymax := 0.0
	for i, s := range tl.Series {
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			xys[j].X = pt.T.Sub(tl.Start).Seconds()
			xys[j].Y = pt.V
			ymax = math.Max(ymax, pt.V)
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return "", "", fmt.Errorf("plot %s series %s: %w", tl.Title, s.Name, err)
		}
		line.Color = colorFor(s.Name, i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(s.Name, line)
	}
	if ymax == 0 {
		ymax = 1
	}
	// Headroom above the data: marker labels in a band over ymax, and the
	// legend (top right, one line per series) above that band, so a
	// marker near the right edge never writes over the legend.
	p.Y.Min, p.Y.Max = 0, ymax*(1.3+0.1*float64(len(tl.Series)))
	var labels plotter.XYLabels
	for i, m := range tl.Markers {
		x := m.T.Sub(tl.Start).Seconds()
		line, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax * 1.25}})
		if err != nil {
			return "", "", err
		}
		line.Color = color.RGBA{A: 0xff}
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
		// Stagger the labels so neighbouring markers stay readable.
		y := ymax * (1.2 - 0.08*float64(i%3))
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: y})
		labels.Labels = append(labels.Labels, " "+markerLabel(m.Kind+": "+m.Text))
	}
	if len(labels.Labels) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return "", "", err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign = draw.XLeft
		}
		p.Add(l)
	}
	svg, png = base+".svg", base+".png"
	for _, out := range []string{svg, png} {
		if err := p.Save(9*vg.Inch, 4*vg.Inch, out); err != nil {
			return "", "", fmt.Errorf("save plot %s: %w", filepath.Base(out), err)
		}
	}
	return svg, png, nil
}

// maxMarkerLabel bounds a marker's label: the plot shrinks its data area
// until every label fits on the canvas, so a few long labels leave no
// room for the data.
const maxMarkerLabel = 48

func markerLabel(s string) string {
	if r := []rune(s); len(r) > maxMarkerLabel {
		return string(r[:maxMarkerLabel-1]) + "…"
	}
	return s
}
