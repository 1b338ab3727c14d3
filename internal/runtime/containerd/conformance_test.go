//go:build root

package containerd_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	ctdclient "github.com/containerd/containerd/v2/client"
	"github.com/opencontainers/image-spec/identity"

	"github.com/fargo-dev/fargo/internal/network/cni"
	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/conformance"
	"github.com/fargo-dev/fargo/internal/runtime/containerd"
	"github.com/fargo-dev/fargo/test/images"
)

const host = "conformance"

// The containerd backend passes the same conformance suite as the fake, against
// fargo's own containerd, an image pulled from a registry on loopback, and
// networks prepared as the agent prepares them. Root only (make test-e2e).
func TestConformance(t *testing.T) {
	d, dir := startDaemon(t)
	existing, _ := filepath.Glob("/sys/fs/cgroup/*/fargo")
	t.Cleanup(func() { removeCgroupRoot(t, existing) }) // fargo's parent cgroups, once the sandboxes are gone
	// The suite's addresses stay on the machine whatever happens to a veth.
	vpc := "192.168.200.0/24"
	if out, err := exec.Command("ip", "route", "replace", "blackhole", vpc).CombinedOutput(); err != nil {
		t.Fatalf("blackhole route: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "route", "del", "blackhole", vpc).Run() })
	dp := cni.NewDataplane(host, filepath.Join(dir, "network"))
	_, subnet, _ := net.ParseCIDR(vpc)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	conformance.Run(t, conformance.Busybox(conformance.Fixture{
		New: func(t *testing.T) runtime.Runtime {
			rt, err := containerd.New(d.Socket, d.Dir, host)
			if err != nil {
				t.Fatal(err)
			}
			return rt
		},
		Network: func(t *testing.T, id string, ip net.IP) string {
			path, err := dp.Setup(context.Background(), id, ip, subnet)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := dp.Teardown(context.Background(), id); err != nil {
					t.Error(err)
				}
			})
			return path
		},
		Image: ref,
		Limits: func(t *testing.T, id string) (int64, int64) {
			cg := containerd.CgroupPath(host, id)
			quota, period := readInt(t, "cpu", cg, "cpu.cfs_quota_us"), readInt(t, "cpu", cg, "cpu.cfs_period_us")
			return quota * 1000 / period, readInt(t, "memory", cg, "memory.limit_in_bytes") >> 20
		},
		ContainerLimits: func(t *testing.T, id string, st runtime.ContainerStatus) runtime.Resources {
			cg := containerd.CgroupPath(host, id) + "/" + strings.TrimPrefix(st.ID, "containerd://")
			res := runtime.Resources{CPUShares: uint64(readInt(t, "cpu", cg, "cpu.shares"))}
			if quota := readInt(t, "cpu", cg, "cpu.cfs_quota_us"); quota > 0 {
				res.CPUQuota, res.CPUPeriod = quota, uint64(readInt(t, "cpu", cg, "cpu.cfs_period_us"))
			}
			if mem := readInt(t, "memory", cg, "memory.limit_in_bytes"); mem < 1<<62 { // else: no limit
				res.MemoryLimit = mem
			}
			return res
		},
		IP: net.ParseIP("192.168.200.4"),
		ComputeGone: func(t *testing.T, id string) bool {
			for _, ctl := range []string{"memory", "cpu", "pids", "cpuset"} {
				if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", ctl, containerd.CgroupPath(host, id))); !os.IsNotExist(err) {
					return false
				}
			}
			return true
		},
		HalfMade: func(t *testing.T, ctx context.Context, sandboxID, name string, attempt int) {
			// containerd makes a container's snapshot before the container.
			c, err := ctdclient.New(d.Socket, ctdclient.WithDefaultNamespace(containerd.Namespace))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			img, err := c.GetImage(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if err := img.Unpack(ctx, ""); err != nil {
				t.Fatal(err)
			}
			diffs, err := img.RootFS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			key := sandboxID + "_" + name + "_" + strconv.Itoa(attempt)
			if _, err := c.SnapshotService("").Prepare(ctx, key, identity.ChainID(diffs).String()); err != nil {
				t.Fatalf("preparing the leftover snapshot %s: %v", key, err)
			}
		},
	}))
}

func readInt(t *testing.T, ctl, cg, file string) int64 {
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctl, cg, file))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// removeCgroupRoot removes the suite's host cgroups and those of fargo's
// parent cgroups the suite created: a parent that existed before (a server
// on this machine) is left as it was found.
func removeCgroupRoot(t testing.TB, existing []string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/fargo")
	for _, p := range dirs {
		remove, _ := filepath.Glob(filepath.Join(p, host))
		if !slices.Contains(existing, p) {
			remove = append(remove, p)
		}
		for _, s := range remove {
			if err := os.Remove(s); err != nil && !os.IsNotExist(err) {
				t.Errorf("removing cgroup %s: %v", s, err)
			}
		}
	}
}
