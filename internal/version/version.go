// Package version reports fargo's version and the Kubernetes version it embeds, both
// stamped at build time by the Makefile.
package version

import (
	"fmt"
	"runtime"
)

var (
	// Version is fargo's version (git describe), set with -ldflags -X.
	Version = "dev"
	// Kubernetes is the embedded Kubernetes version, set with -ldflags -X.
	Kubernetes = "unknown"
)

// String is the one-line version shown by `fargo version` and at start.
func String() string {
	return fmt.Sprintf("fargo %s (kubernetes %s, %s, %s/%s)", Version, Kubernetes, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
