package stress

import "time"

// RampStep is how often a ramping memstress client touches more pages:
// every 10 ms, as upstream memStress's linearGrow does.
const RampStep = 10 * time.Millisecond
