package kubelet

import "time"

// restartPoll paces the wait for a restarted kubelet (service active,
// /configz updated, node Ready); TuneOptions.Timeout bounds it.
const restartPoll = time.Second
