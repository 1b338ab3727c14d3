package conformance

import (
	"net"
	"strconv"
	"testing"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Fake is the fixture for the fake backend, or for a runtime over it (new
// returns it): its commands are the fake's, and what runs no process is
// declared unsupported.
func Fake(new func(*testing.T) runtime.Runtime) Fixture {
	return Fixture{
		New:   new,
		Image: "registry.local/busybox:1",
		Sleep: []string{"sleep"},
		Exit:  func(code int) []string { return []string{"exit", strconv.Itoa(code)} },
		OOM:   []string{"oom"},
		Cat:   []string{"cat"},
		IP:    net.ParseIP("192.168.100.4"),
		Unsupported: map[string]string{
			"Adoption":          "sandboxes live in the process's memory",
			"Attach":            "no process to attach to",
			"ExecTTY":           "no process, no terminal",
			"Logs":              "no process writes output",
			"LogsAcrossRestart": "no process writes output",
			"Mounts":            "no process reads files",
			"Network":           "no network namespace",
			"PortForward":       "no process listens",
			"Limits":            "no cgroup",
			"StartAfterCrash":   "starts are in memory; a crash leaves nothing half-made",
			"StopSandbox":       "no process writes output, and sandboxes live in the process's memory",
		},
	}
}
