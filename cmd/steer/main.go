// Command steer is the activation-steering interpretability toolkit.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], newIOStreams()))
}
