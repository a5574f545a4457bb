package doctor

import "time"

// defaultCommandTimeout is Options.CommandTimeout when unset: it bounds each
// command a check runs (docker info, a privileged docker run).
const defaultCommandTimeout = 30 * time.Second
