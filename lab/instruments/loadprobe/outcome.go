package loadprobe

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// Outcome is the class of a request's result.
type Outcome string

// The outcome classes. Every one but OK is a failure.
const (
	// OK is a response with a status below 400.
	OK Outcome = "ok"
	// Refused is a connect that got ECONNREFUSED: nothing listened.
	Refused Outcome = "refused"
	// Reset is a connection reset (ECONNRESET, EPIPE) or closed before the
	// response ended (EOF).
	Reset Outcome = "reset"
	// Timeout is a request that did not end within Options.Timeout.
	Timeout Outcome = "timeout"
	// HTTP5xx is a response with a status of 500 or more.
	HTTP5xx Outcome = "http5xx"
	// Other is any other error or a 4xx status.
	Other Outcome = "other"
)

// Outcomes lists the classes in report order.
var Outcomes = []Outcome{OK, Refused, Reset, Timeout, HTTP5xx, Other}

// Classify returns the class of a request that got status (0 without a
// response) and err. Connection errors are checked before timeouts, so a
// reset that races the deadline is reported as the reset it was.
func Classify(status int, err error) Outcome {
	if err == nil {
		switch {
		case status >= 500:
			return HTTP5xx
		case status >= 400 || status == 0:
			return Other
		}
		return OK
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Reset
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Timeout
	}
	return Other
}
