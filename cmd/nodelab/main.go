// Command nodelab creates kind labs and runs chaos and node scenarios on them.
package main

import (
	"os"

	"github.com/nodelab/nodelab/cmd/nodelab/app"
)

func main() { os.Exit(app.Main(os.Args[1:], os.Stdout, os.Stderr)) }
