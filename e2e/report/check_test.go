package report

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// The page check reads the colours the plots draw with and reports a
// missing image and a dangling link together.
func TestCheckPageFindsPlotColoursAndEveryMissingFile(t *testing.T) {
	artifacts := t.TempDir()
	out, err := WriteHTML(fakeRun(t, artifacts), artifacts)
	if err != nil {
		t.Fatal(err)
	}
	plots, err := CheckPage(out)
	if err != nil {
		t.Fatalf("CheckPage on a good report: %v", err)
	}
	if len(plots) != 1 || len(plots[0].Colors) != 2 {
		t.Fatalf("plots = %+v, want one plot with its ok and failed colours", plots)
	}
	if err := os.Remove(filepath.Join(artifacts, "redis-port-forward/failover/failover.timeline.svg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(artifacts, "redis-port-forward/pitfall-moved/index.txt")); err != nil {
		t.Fatal(err)
	}
	_, err = CheckPage(out)
	if err == nil || !strings.Contains(err.Error(), "failover.timeline.svg") || !strings.Contains(err.Error(), "pitfall-moved/index.txt") {
		t.Errorf("CheckPage = %v, want both the missing plot and the missing bundle", err)
	}
}

func TestCheckScreenshotBlankVersusPlotVisible(t *testing.T) {
	dir := t.TempDir()
	green := color.RGBA{G: 0x99, A: 0xff}
	plots := []PagePlot{{Src: "p.svg", Colors: []color.RGBA{green}}}

	blank := image.NewRGBA(image.Rect(0, 0, 200, 200))
	for i := range blank.Pix {
		blank.Pix[i] = 0xff
	}
	writePNG(t, filepath.Join(dir, "blank.png"), blank)
	if _, err := CheckScreenshot(filepath.Join(dir, "blank.png"), plots); err == nil || !strings.Contains(err.Error(), "blank-looking") || !strings.Contains(err.Error(), "p.svg not visible") {
		t.Errorf("blank screenshot: %v, want blank and plot-not-visible", err)
	}

	// Outcome text green (#080) is not the plot's green.
	text := image.NewRGBA(image.Rect(0, 0, 200, 200))
	copy(text.Pix, blank.Pix)
	for x := 0; x < 200; x++ {
		for y := 10; y < 14; y++ {
			text.Set(x, y, color.RGBA{G: 0x88, A: 0xff})
		}
	}
	writePNG(t, filepath.Join(dir, "text.png"), text)
	if _, err := CheckScreenshot(filepath.Join(dir, "text.png"), plots); err == nil || !strings.Contains(err.Error(), "p.svg not visible") {
		t.Errorf("#080 text only: %v, want the plot not visible", err)
	}

	// A plot: a green line plus enough other colours to not look blank.
	good := image.NewRGBA(image.Rect(0, 0, 200, 200))
	copy(good.Pix, blank.Pix)
	for x := 0; x < 200; x++ {
		good.Set(x, 100, green)
		good.Set(x, 101, green)
		for y := 150; y < 160; y++ {
			good.Set(x, y, color.RGBA{R: uint8(x), G: uint8(y), B: 0x80, A: 0xff})
		}
	}
	writePNG(t, filepath.Join(dir, "good.png"), good)
	st, err := CheckScreenshot(filepath.Join(dir, "good.png"), plots)
	if err != nil {
		t.Errorf("screenshot with the plot: %v", err)
	}
	if st.ColorPixels[green] != 400 {
		t.Errorf("green pixels = %d, want 400", st.ColorPixels[green])
	}
}
