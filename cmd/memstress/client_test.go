package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/nodelab/nodelab/lab/instruments/stress"
)

// touched counts the pages of data whose first byte was written.
func touched(data []byte, page int) int {
	n := 0
	for i := 0; i < len(data); i += page {
		if data[i] == 1 {
			n++
		}
	}
	return n
}

func TestTouchAllAtOnce(t *testing.T) {
	const page = 4096
	data := make([]byte, 8*page)
	if !touch(data, page, stress.Ramp{Pages: 8}, nil) {
		t.Fatal("touch without a ramp reported a signal")
	}
	if n := touched(data, page); n != 8 {
		t.Errorf("touched %d of 8 pages, want all", n)
	}
}

func TestTouchRampsToTheEnd(t *testing.T) {
	const page = 4096
	data := make([]byte, 16*page)
	start := time.Now()
	if !touch(data, page, stress.Ramp{Pages: 16, Over: 50 * time.Millisecond}, nil) {
		t.Fatal("touch reported a signal, none was sent")
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("a 50ms ramp finished after %v", took)
	}
	if n := touched(data, page); n != 16 {
		t.Errorf("touched %d of 16 pages at the end of the ramp, want all", n)
	}
}

func TestTouchStopsOnSignal(t *testing.T) {
	const page = 4096
	data := make([]byte, 100*page)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	if touch(data, page, stress.Ramp{Pages: 100, Over: time.Hour}, sigs) {
		t.Fatal("touch finished an hour-long ramp despite a pending SIGTERM")
	}
	if n := touched(data, page); n == 100 {
		t.Errorf("all pages touched, want the ramp cut short")
	}
}
