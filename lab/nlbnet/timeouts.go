package nlbnet

import "time"

// DefaultLifetime bounds how long the data-plane container lives if nobody
// removes it: longer than any lab run, short enough that a crashed run does
// not leave it for days.
const DefaultLifetime = 6 * time.Hour

const (
	// minLifetime is the least Options.Lifetime: the container's sleep
	// takes whole seconds.
	minLifetime = time.Second
	// removeTimeout bounds removing a data plane whose setup failed.
	removeTimeout = time.Minute
)
