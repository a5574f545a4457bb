package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// This file checks the HTML report the way a person would see it: every
// image and link it names exists and decodes, and a screenshot of the
// rendered page (hack/reportcheck takes it with headless Chromium) shows
// the plots' own colours, not a blank page or broken-image icons.

var (
	imgSrc   = regexp.MustCompile(`<img\s[^>]*src="([^"]+)"`)
	linkHref = regexp.MustCompile(`<a\s[^>]*href="([^"]+)"`)
	svgColor = regexp.MustCompile(`(?:stroke|fill):#([0-9A-Fa-f]{6})`)
)

// PagePlot is one <img> of the report page and the series colours its SVG
// draws with (greys, black and white left out: axes and grid have them).
type PagePlot struct {
	Src    string
	Path   string
	Colors []color.RGBA
}

// CheckPage reads a report page and verifies that every <img src> exists
// and is a valid PNG or SVG and that every relative <a href> exists. It
// returns the plots with their colours, for CheckScreenshot, and every
// problem found (not only the first).
func CheckPage(indexHTML string) ([]PagePlot, error) {
	raw, err := os.ReadFile(indexHTML)
	if err != nil {
		return nil, fmt.Errorf("read report page: %w", err)
	}
	dir := filepath.Dir(indexHTML)
	var plots []PagePlot
	var problems []string
	for _, m := range imgSrc.FindAllStringSubmatch(string(raw), -1) {
		src := html.UnescapeString(m[1])
		p := PagePlot{Src: src, Path: filepath.Join(dir, filepath.FromSlash(src))}
		cols, err := imageColors(p.Path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("<img src=%q>: %v", src, err))
			continue
		}
		p.Colors = cols
		plots = append(plots, p)
	}
	for _, m := range linkHref.FindAllStringSubmatch(string(raw), -1) {
		href := html.UnescapeString(m[1])
		if strings.Contains(href, "://") || strings.HasPrefix(href, "#") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(href))); err != nil {
			problems = append(problems, fmt.Sprintf("<a href=%q>: %v", href, err))
		}
	}
	if len(problems) > 0 {
		return plots, fmt.Errorf("report page %s:\n  %s", indexHTML, strings.Join(problems, "\n  "))
	}
	return plots, nil
}

// imageColors validates an image file and returns its saturated colours
// (for SVG, the stroke and fill colours it names; for PNG, none).
func imageColors(path string) ([]color.RGBA, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("not a valid PNG: %w", err)
		}
		return nil, nil
	case ".svg":
		var root struct{ XMLName xml.Name }
		if err := xml.Unmarshal(b, &root); err != nil {
			return nil, fmt.Errorf("not valid SVG (XML): %w", err)
		}
		if root.XMLName.Local != "svg" {
			return nil, fmt.Errorf("not SVG: root element <%s>", root.XMLName.Local)
		}
		seen := map[color.RGBA]bool{}
		var out []color.RGBA
		for _, m := range svgColor.FindAllStringSubmatch(string(b), -1) {
			v, _ := strconv.ParseUint(m[1], 16, 32)
			c := color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
			if saturation(c) < 60 || seen[c] {
				continue
			}
			seen[c] = true
			out = append(out, c)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("neither PNG nor SVG")
	}
}

func saturation(c color.RGBA) int {
	hi := max(c.R, c.G, c.B)
	lo := min(c.R, c.G, c.B)
	return int(hi) - int(lo)
}

// ScreenshotStats describe a screenshot of the report page.
type ScreenshotStats struct {
	Width, Height int
	// NonWhite is the fraction of pixels that are not (nearly) white.
	NonWhite float64
	// DistinctColors counts the different colours.
	DistinctColors int
	// ColorPixels counts, per plot colour, the pixels within ColorTolerance of it.
	ColorPixels map[color.RGBA]int
}

// ColorTolerance is how far (per channel) a screenshot pixel may be from a
// plot colour and still count as it; tight enough that the page's green
// and red outcome text (#080, #c00) never counts as the plots' green and red.
const ColorTolerance = 10

// MinColorPixels is how many pixels of a plot colour make it "visible":
// a 1.5 pt series line across a 864 px wide plot leaves hundreds.
const MinColorPixels = 40

// AnalyzeScreenshot decodes a PNG screenshot and counts what CheckScreenshot judges.
func AnalyzeScreenshot(path string, colors []color.RGBA) (ScreenshotStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return ScreenshotStats{}, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return ScreenshotStats{}, fmt.Errorf("screenshot %s: %w", path, err)
	}
	return analyze(img, colors), nil
}

func analyze(img image.Image, colors []color.RGBA) ScreenshotStats {
	b := img.Bounds()
	st := ScreenshotStats{Width: b.Dx(), Height: b.Dy(), ColorPixels: map[color.RGBA]int{}}
	distinct := map[color.RGBA]bool{}
	nonWhite := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			distinct[c] = true
			if c.R < 245 || c.G < 245 || c.B < 245 {
				nonWhite++
			}
			for _, want := range colors {
				if near(c, want) {
					st.ColorPixels[want]++
				}
			}
		}
	}
	if n := b.Dx() * b.Dy(); n > 0 {
		st.NonWhite = float64(nonWhite) / float64(n)
	}
	st.DistinctColors = len(distinct)
	return st
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) <= ColorTolerance && d(a.G, b.G) <= ColorTolerance && d(a.B, b.B) <= ColorTolerance
}

// CheckScreenshot judges a screenshot of a report page with these plots:
// not blank (≥ 0.5% non-white pixels, ≥ 32 distinct colours) and every
// plot's every series colour visible (≥ MinColorPixels pixels). It returns
// the stats and every problem found.
func CheckScreenshot(path string, plots []PagePlot) (ScreenshotStats, error) {
	var all []color.RGBA
	for _, p := range plots {
		all = append(all, p.Colors...)
	}
	st, err := AnalyzeScreenshot(path, all)
	if err != nil {
		return st, err
	}
	var problems []string
	if st.NonWhite < 0.005 || st.DistinctColors < 32 {
		problems = append(problems, fmt.Sprintf("blank-looking page: %.1f%% non-white pixels, %d distinct colours", 100*st.NonWhite, st.DistinctColors))
	}
	for _, p := range plots {
		if len(p.Colors) == 0 {
			continue
		}
		var missing []string
		for _, c := range p.Colors {
			if st.ColorPixels[c] < MinColorPixels {
				missing = append(missing, fmt.Sprintf("#%02x%02x%02x (%d px)", c.R, c.G, c.B, st.ColorPixels[c]))
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("plot %s not visible: colours %s below %d px", p.Src, strings.Join(missing, ", "), MinColorPixels))
		}
	}
	if len(problems) > 0 {
		return st, fmt.Errorf("screenshot %s:\n  %s", path, strings.Join(problems, "\n  "))
	}
	return st, nil
}
