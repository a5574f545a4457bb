package chaos

import "time"

// Poll intervals of this package's waits; the timeouts come from the caller.
const (
	// statusPoll paces the waits on a StressChaos's status and deletion:
	// the controller updates conditions within a second or two.
	statusPoll = time.Second
	// stressorsPoll paces CheckNoStressors, which lists processes on every
	// node each time.
	stressorsPoll = time.Second
)
