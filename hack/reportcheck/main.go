// Command reportcheck opens the HTML report in headless Chromium, as a
// person would, and checks what it shows: every image and link the page
// names exists and decodes, the screenshot is not blank, and every plot's
// series colours are on screen. It writes the screenshot next to the page
// (report/screenshot.png) and exits non-zero with every problem found.
//
//	go run ./hack/reportcheck -artifacts _artifacts
//
// `make report-check` installs Debian's chromium first when it is missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nodelab/nodelab/e2e/report"
)

func main() {
	artifacts := flag.String("artifacts", "_artifacts", "artifacts folder holding report/index.html")
	browser := flag.String("chromium", "", "Chromium binary (default: chromium or chromium-browser on PATH)")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long Chromium may take")
	flag.Parse()
	if err := run(*artifacts, *browser, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "report-check: FAIL:", err)
		os.Exit(1)
	}
}

func run(artifacts, browser string, timeout time.Duration) error {
	page, err := filepath.Abs(filepath.Join(artifacts, "report", "index.html"))
	if err != nil {
		return err
	}
	if _, err := os.Stat(page); err != nil {
		return fmt.Errorf("no report page: %w (make e2e or make report-sample writes one)", err)
	}
	plots, pageErr := report.CheckPage(page)
	if pageErr == nil {
		fmt.Printf("  page %s: %d plots, every <img> and link exists and decodes\n", page, len(plots))
	}
	if browser == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				browser = p
				break
			}
		}
		if browser == "" {
			return fmt.Errorf("no chromium on PATH: apt-get install chromium (make report-check does it as root)")
		}
	}
	profile, err := os.MkdirTemp("", "reportcheck-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	shot := filepath.Join(filepath.Dir(page), "screenshot.png")
	_ = os.Remove(shot)
	// Tall enough that every plot (384 px each, one row per spec) is on screen.
	height := min(max(2000, 900+520*len(plots)), 16000)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir="+profile,
		fmt.Sprintf("--window-size=1400,%d", height),
		"--screenshot="+shot, "file://"+page)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	st, shotErr := report.CheckScreenshot(shot, plots)
	fmt.Printf("  screenshot %s: %dx%d, %.1f%% non-white, %d distinct colours\n", shot, st.Width, st.Height, 100*st.NonWhite, st.DistinctColors)
	for _, p := range plots {
		var parts []string
		for _, c := range p.Colors {
			parts = append(parts, fmt.Sprintf("#%02x%02x%02x %d px", c.R, c.G, c.B, st.ColorPixels[c]))
		}
		fmt.Printf("  plot %s: %s\n", p.Src, strings.Join(parts, ", "))
	}
	if pageErr != nil || shotErr != nil {
		return errors.Join(pageErr, shotErr)
	}
	fmt.Println("report-check: PASS (page renders, plots visible)")
	return nil
}
