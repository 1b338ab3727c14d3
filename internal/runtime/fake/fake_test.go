package fake

import (
	"net"
	"strconv"
	"testing"

	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/conformance"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Fixture{
		New:   func(*testing.T) runtime.Runtime { return New() },
		Image: "registry.local/busybox:1",
		Sleep: []string{"sleep"},
		Exit:  func(code int) []string { return []string{"exit", strconv.Itoa(code)} },
		OOM:   []string{"oom"},
		Cat:   []string{"cat"},
		IP:    net.ParseIP("192.168.100.4"),
		Unsupported: map[string]string{
			"Adoption":          "sandboxes live in the process's memory",
			"Attach":            "no process to attach to",
			"Logs":              "no process writes output",
			"LogsAcrossRestart": "no process writes output",
			"Mounts":            "no process reads files",
			"Network":           "no network namespace",
			"PortForward":       "no process listens",
			"Limits":            "no cgroup",
			"StartAfterCrash":   "starts are in memory; a crash leaves nothing half-made",
			"StopSandbox":       "no process writes output, and sandboxes live in the process's memory",
		},
	})
}
