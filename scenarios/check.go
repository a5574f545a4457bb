package scenarios

import "github.com/nodelab/nodelab/lab/wait"

// Check is wait.Check: gomega assertions returning the first failure as an
// error. Kept here so runbooks read scenarios.Check.
var Check = wait.Check
