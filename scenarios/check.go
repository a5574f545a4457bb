package scenarios

import (
	"errors"

	"github.com/onsi/gomega"
)

// checkFailure carries a gomega failure message out of Check.
type checkFailure struct{ message string }

// Check runs assertions written with gomega (Expect, and Eventually or
// Consistently with their own timeouts) and returns the first failure as an
// error. Runbook steps use it so they read like specs yet return errors:
// the CLI runs them without ginkgo, and the e2e suite fails the spec with
// the message.
func Check(f func(g gomega.Gomega)) (err error) {
	g := gomega.NewGomega(func(message string, _ ...int) { panic(checkFailure{message}) })
	defer func() {
		if p := recover(); p != nil {
			cf, ok := p.(checkFailure)
			if !ok {
				panic(p)
			}
			err = errors.New(cf.message)
		}
	}()
	f(g)
	return nil
}
