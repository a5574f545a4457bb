package kubelet

import (
	"os"
	"testing"
)

func TestParseSummary(t *testing.T) {
	b, err := os.ReadFile("testdata/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSummary(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Node.NodeName != "nodelab-mem-worker" || s.Node.Memory == nil || *s.Node.Memory.AvailableBytes != 20401094656 || *s.Node.Memory.WorkingSetBytes != 905969664 {
		t.Fatalf("node stats: %+v", s.Node)
	}
	p := s.Pod("memory-pressure", "hog")
	if p == nil || *p.Memory.WorkingSetBytes != 256<<20 {
		t.Fatalf("pod stats: %+v", p)
	}
	c := p.Container("hog")
	if c == nil || *c.Memory.UsageBytes != 283115520 {
		t.Fatalf("container stats: %+v", c)
	}
	if s.Pod("memory-pressure", "absent") != nil || p.Container("absent") != nil {
		t.Fatal("absent pod/container found")
	}
	if _, err := ParseSummary([]byte("{")); err == nil {
		t.Fatal("truncated JSON: want error")
	}
}
