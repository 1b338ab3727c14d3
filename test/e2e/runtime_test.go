//go:build e2e

package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/conformance"
	"github.com/fargo-dev/fargo/internal/runtime/containerd"
	"github.com/fargo-dev/fargo/test/images"
)

// The containerd backend passes the same conformance suite as the fake, against
// fargo's own containerd and an image pulled from a registry on loopback.
func TestContainerdConformance(t *testing.T) {
	requireRoot(t)
	dir, err := os.MkdirTemp("", "fargo-ctd-") // short: the socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d, err := containerd.StartDaemon(context.Background(), filepath.Join(dir, "containerd"), filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Error(err)
		}
		removeCgroupRoot(t)
	})
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	conformance.Run(t, conformance.Fixture{
		New: func(t *testing.T) runtime.Runtime {
			rt, err := containerd.New(d.Socket, d.Dir)
			if err != nil {
				t.Fatal(err)
			}
			return rt
		},
		Image: ref,
		Sleep: []string{"sleep", "3600"},
		Exit:  func(code int) []string { return []string{"sh", "-c", "exit " + strconv.Itoa(code)} },
		Cat:   []string{"cat"},
		// Doubling a shell string passes the 512 MiB sandbox limit in ~30 steps.
		OOM: []string{"sh", "-c", "x=0123456789; while true; do x=$x$x; done"},
		IP:  net.ParseIP("192.168.200.4"),
	})
}

// removeCgroupRoot removes fargo's (now empty) parent cgroups.
func removeCgroupRoot(t testing.TB) {
	for _, ctl := range []string{"cpu", "memory", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer", "hugetlb", "net_cls", "net_prio", "perf_event", "systemd"} {
		p := filepath.Join("/sys/fs/cgroup", ctl, "fargo")
		if _, err := os.Stat(p); err == nil {
			if err := os.Remove(p); err != nil {
				t.Errorf("removing cgroup %s: %v", p, err)
			}
		}
	}
}
