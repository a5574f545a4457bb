package manifest

import "time"

// establishedPoll is how often WaitEstablished reads the CRD: the API
// server marks a CRD Established within a second or two.
const establishedPoll = time.Second

// gonePoll is how often WaitGone looks for deleted objects: namespaces and
// CRDs take seconds to finalize.
const gonePoll = time.Second
