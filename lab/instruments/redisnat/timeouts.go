package redisnat

import "time"

// DefaultMinRefreshInterval is the least time between two Refresh calls
// when Dialer.MinRefreshInterval is zero.
const DefaultMinRefreshInterval = time.Second
