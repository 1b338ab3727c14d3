//go:build microvm

package microvm

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fargo-dev/fargo/internal/network/cni"
	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/conformance"
	"github.com/fargo-dev/fargo/internal/runtime/containerd"
	"github.com/fargo-dev/fargo/test/images"
)

const host = "conformance-vm"

// The microvm backend passes the conformance suite: each sandbox a QEMU
// microvm (TCG here) booting the guest make guest built, images from a
// registry on loopback through fargo's containerd, networks prepared as the
// agent prepares them. Root only (make test-microvm).
func TestConformance(t *testing.T) {
	guestDir, _ := filepath.Abs("../../../bin/microvm")
	if _, err := os.Stat(filepath.Join(guestDir, "initrd.img")); err != nil {
		t.Fatalf("no guest in %s: run make guest first, or run make test-microvm (%v)", guestDir, err)
	}
	dir := t.TempDir()
	d, err := containerd.StartDaemon(context.Background(), filepath.Join(dir, "containerd"), filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop() })
	vpc := "192.168.201.0/24"
	if out, err := exec.Command("ip", "route", "replace", "blackhole", vpc).CombinedOutput(); err != nil {
		t.Fatalf("blackhole route: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "route", "del", "blackhole", vpc).Run() })
	dp := cni.NewDataplane(host, filepath.Join(dir, "network"))
	_, subnet, _ := net.ParseCIDR(vpc)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	var imgs *containerd.Runtime
	newRuntime := func(t *testing.T) *Runtime {
		if imgs == nil {
			if imgs, err = containerd.New(d.Socket, filepath.Join(dir, "containerd"), host); err != nil {
				t.Fatal(err)
			}
		}
		rt, err := New(filepath.Join(dir, "microvm"), imgs, Options{Guest: guestDir})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	t.Logf("VMs run under %s", newRuntime(t).Accel())
	conformance.Run(t, conformance.Busybox(conformance.Fixture{
		New: func(t *testing.T) runtime.Runtime { return newRuntime(t) },
		Network: func(t *testing.T, id string, ip net.IP) string {
			path, err := dp.Setup(context.Background(), id, ip, subnet)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				// A sandbox whose creation failed is not the suite's to remove.
				if err := newRuntime(t).RemoveSandbox(context.Background(), id); err != nil {
					t.Error(err)
				}
				if err := dp.Teardown(context.Background(), id); err != nil {
					t.Error(err)
				}
			})
			return path
		},
		Image: ref,
		IP:    net.ParseIP("192.168.201.4"),
		Limits: func(t *testing.T, id string) (int64, int64) {
			cpu, mem, err := newRuntime(t).PodLimits(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			return cpu, mem
		},
		ComputeGone: func(t *testing.T, id string) bool {
			return newRuntime(t).vm(id).pid() == 0
		},
		HalfMade: func(t *testing.T, ctx context.Context, sandboxID, name string, attempt int) {
			if _, err := imgs.Rootfs(ctx, containerID(sandboxID, name, attempt), ref); err != nil {
				t.Fatal(err)
			}
		},
		LogsOutliveRuntime: true, // the guest writes them
		Unsupported: map[string]string{
			"Attach": "attach to a VM's container is not built yet",
		},
	}))
}
