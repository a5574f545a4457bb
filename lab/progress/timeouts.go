package progress

import "time"

// precision is how finely a step's duration is printed: tenths of a second.
const precision = 100 * time.Millisecond
