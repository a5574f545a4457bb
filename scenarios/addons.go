package scenarios

import "github.com/nodelab/nodelab/lab/addon"

// Addons is how runbooks get addon and workload images onto a lab: the
// CLI (`nodelab run`) and the e2e suite set it to the offline forge, so a
// forge lab builds and loads what a scenario needs.
var Addons addon.Options
