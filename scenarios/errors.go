package scenarios

import "fmt"

// NotApplicable is returned by a step that cannot run on this lab, with the
// precise reason; the e2e suite turns it into a Skip, the CLI into "SKIP".
type NotApplicable struct{ Reason string }

func (n *NotApplicable) Error() string { return "not applicable: " + n.Reason }

// Skipf returns a NotApplicable error.
func Skipf(format string, args ...any) error {
	return &NotApplicable{Reason: fmt.Sprintf(format, args...)}
}
