package server

import (
	"os"
	"runtime/debug"
)

// gcPercent is the server's GOGC unless the environment sets one. The server
// is the whole control plane, so the Go collector is about a sixth of its CPU
// under a burst of pod starts; at 200 it runs half as often. Measured on 2
// cores with batches of 10 Fargate pods: about a fifth less server CPU and a
// sixth off the median start, for about 75 MiB more idle RSS (docs/benchmarks.md).
const gcPercent = 200

// tuneGC applies gcPercent when GOGC is not set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
