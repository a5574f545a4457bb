package forge

import (
	"testing"
	"time"
)

// A trimmed real action graph (go build -debug-actiongraph): one std
// package compiled, one module package compiled, one from the cache, a cgo
// compile and one link.
const actionGraphSample = `[
 {"ID":0,"Mode":"link-install","Package":"example.com/m/cmd/x"},
 {"ID":1,"Mode":"link","Package":"example.com/m/cmd/x","Cmd":["link -o x"],"CmdReal":3000000000,"CmdUser":2500000000,"CmdSys":500000000},
 {"ID":2,"Mode":"build","Package":"example.com/m/cmd/x","Cmd":["compile"],"CmdReal":200000000,"CmdUser":300000000,"CmdSys":100000000},
 {"ID":3,"Mode":"build","Package":"k8s.io/api/core/v1"},
 {"ID":4,"Mode":"build","Package":"net","Cmd":["compile"],"CmdReal":1000000000,"CmdUser":1000000000},
 {"ID":5,"Mode":"build","Package":"os"},
 {"ID":6,"Mode":"cgo compile gcc_libinit.c","Package":"runtime/cgo","Cmd":["gcc"],"CmdUser":50000000},
 {"ID":7,"Mode":"build check cache","Package":"k8s.io/api/core/v1"}
]`

func TestParseActionGraph(t *testing.T) {
	g, err := parseActionGraph([]byte(actionGraphSample))
	if err != nil {
		t.Fatal(err)
	}
	want := GoUsage{
		Packages: 2, Compiled: 1, Cached: 1, StdCompiled: 1,
		CompileCPU: 1450 * time.Millisecond,
		Links:      1, LinkCPU: 3 * time.Second, LinkWall: 3 * time.Second,
	}
	if g != want {
		t.Fatalf("parseActionGraph:\n got %+v\nwant %+v", g, want)
	}
	if _, err := parseActionGraph([]byte("not json")); err == nil {
		t.Fatal("a broken action graph must be an error")
	}
}

func TestUsageDescribe(t *testing.T) {
	u := Usage{CPU: 4 * time.Minute, Go: &GoUsage{Packages: 10, Compiled: 7, Cached: 3, CompileCPU: 3 * time.Minute, Links: 2, LinkCPU: time.Minute, LinkWall: 50 * time.Second}}
	got := u.describe(2 * time.Minute)
	want := "CPU 4m0s (2.0 cores); go: 7 of 10 packages compiled, 3 from the build cache; compile 3m0s CPU; 2 links 1m0s CPU, 50s wall"
	if got != want {
		t.Fatalf("describe:\n got %q\nwant %q", got, want)
	}
	if (Usage{}).describe(time.Second) != "" {
		t.Fatal("an empty usage must describe as nothing")
	}
}
