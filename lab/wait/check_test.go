package wait

import (
	"strings"
	"testing"

	"github.com/onsi/gomega"
)

func TestCheckReturnsTheFirstFailure(t *testing.T) {
	err := Check(func(g gomega.Gomega) {
		g.Expect(1).To(gomega.Equal(1))
		g.Expect("pod").To(gomega.Equal("node"), "the first failure")
		t.Fatal("Check went on after a failed assertion")
	})
	if err == nil || !strings.Contains(err.Error(), "the first failure") {
		t.Fatalf("err = %v", err)
	}
	if err := Check(func(g gomega.Gomega) { g.Expect(true).To(gomega.BeTrue()) }); err != nil {
		t.Fatalf("passing check: %v", err)
	}
}
