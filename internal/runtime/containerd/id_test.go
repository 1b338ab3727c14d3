package containerd

import (
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/identifiers"
)

func TestContainerIDsAreValidAndUnique(t *testing.T) {
	long := strings.Repeat("busybox-readonly-false-", 3)[:63] // the longest container name
	seen := map[string]string{}
	for _, c := range []struct {
		sandbox, name string
		attempt       int
	}{
		{"ip-192-168-96-7", "web", 0},
		{"ip-192-168-96-7", "busybox-readonly-false-5c0e4f2a-2a5b-4f6e-9d3b-1f0c8e7a6b5d", 0},
		{"ip-192-168-96-7", "busybox-readonly-false-5c0e4f2a-2a5b-4f6e-9d3b-1f0c8e7a6b5e", 0},
		{"ip-255-255-255-255", long, 0},
		{"ip-255-255-255-255", long, 12345},
		{"ip-255-255-255-255", long[:62] + "x", 0},
		{"ip-192-168-96-7", "my--app", 0},
		{"ip-192-168-96-7", "my-app", 0},
	} {
		id := containerID(c.sandbox, c.name, c.attempt)
		if err := identifiers.Validate(id); err != nil {
			t.Errorf("%s/%s: %v", c.sandbox, c.name, err)
		}
		if !strings.HasPrefix(id, c.sandbox+"_") {
			t.Errorf("%s does not start with its sandbox's ID (leftover snapshots are found by it)", id)
		}
		if other, ok := seen[id]; ok {
			t.Errorf("%s and %s/%s share ID %s", other, c.sandbox, c.name, id)
		}
		seen[id] = c.sandbox + "/" + c.name
	}
	if got := containerID("ip-192-168-96-7", "web", 2); got != "ip-192-168-96-7_web_2" {
		t.Errorf("short names are kept whole: got %s", got)
	}
}
