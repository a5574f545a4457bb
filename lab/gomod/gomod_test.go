package gomod

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDir(t *testing.T) {
	// go.mod requires this module, so it is in the module cache.
	dir, err := Dir(context.Background(), "github.com/k8snetworkplumbingwg/network-attachment-definition-client", "v1.7.7")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "artifacts", "networks-crd.yaml")); err != nil {
		t.Fatalf("module folder %s: %v", dir, err)
	}
	if _, err := Dir(context.Background(), "example.invalid/no-such-module", "v0.0.1"); err == nil || !strings.Contains(err.Error(), "example.invalid/no-such-module@v0.0.1") {
		t.Fatalf("unknown module: err = %v, want one naming it", err)
	}
}
