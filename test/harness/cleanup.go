package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-dev/fargo/internal/nodegroup"
)

// RequireRoot fails the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this tier runs as root (as CI does): run it with sudo, e.g. `sudo make test-e2e`")
	}
}

// VMs lists the PIDs of the microvm runtime's QEMUs serving dataDir.
func VMs(dataDir string) []string {
	out, _ := exec.Command("pgrep", "-f", "qemu-system-x86_64 .*"+dataDir+"/microvm/").Output()
	return strings.Fields(string(out))
}

// SandboxProcs lists the PIDs in fargo's sandbox cgroups (/fargo/<host>/<sandbox>/<container>).
func SandboxProcs() []string {
	paths, _ := filepath.Glob("/sys/fs/cgroup/memory/fargo/*/*/*/cgroup.procs")
	var pids []string
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		pids = append(pids, strings.Fields(string(data))...)
	}
	return pids
}

// CleanupSandboxes kills whatever a test left in fargo's cgroups, the containerd
// shims and kubelets serving dataDir, and removes the cgroups, mounts, network
// namespaces, routes and kube-proxy's nftables table.
func CleanupSandboxes(t testing.TB, dataDir string) {
	_ = exec.Command("pkill", "-f", "containerd-shim-runc-v2 .*-address "+dataDir+"/").Run()
	_ = exec.Command("pkill", "-f", "containerd --config "+dataDir+"/").Run()
	_ = exec.Command("pkill", "-f", "lxcfs --foreground --pidfile "+dataDir+"/").Run()
	_ = exec.Command("pkill", "-9", "-f", "qemu-system-x86_64 .*"+dataDir+"/microvm/").Run() // the microvm runtime's VMs
	// Node-group kubelets outlive a server that died (as its sandboxes do); left,
	// they hold their node addresses for the next test.
	_ = exec.Command("pkill", "-f", "fargo kubelet --config="+dataDir+"/").Run()
	if mounts, err := os.ReadFile("/proc/self/mounts"); err == nil {
		var under []string
		for _, line := range strings.Split(string(mounts), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dataDir+"/") {
				under = append(under, f[1])
			}
		}
		for i := len(under) - 1; i >= 0; i-- { // innermost first
			_ = syscall.Unmount(under[i], syscall.MNT_DETACH)
		}
	}
	for _, pid := range SandboxProcs() {
		var n int
		if _, err := fmt.Sscan(pid, &n); err == nil {
			_ = syscall.Kill(n, syscall.SIGKILL)
		}
	}
	time.Sleep(200 * time.Millisecond)
	removeCgroups(t)
	// The VPC's blackhole route: the tests' VPCs are all in 192.168.0.0/16 (a
	// config with one subnet has that subnet for its VPC).
	out, _ := exec.Command("ip", "-4", "route", "show", "type", "blackhole").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "blackhole" && strings.HasPrefix(f[1], "192.168.") {
			_ = exec.Command("ip", "route", "del", "blackhole", f[1]).Run()
		}
	}
	// Load balancers' and the service CIDR's local routes (cni.RouteLocal,
	// cni.RouteServices): the local routes on lo that the kernel did not make.
	out, _ = exec.Command("ip", "-4", "route", "show", "table", "local", "type", "local", "dev", "lo").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "local" && !strings.Contains(line, "proto kernel") {
			_ = exec.Command("ip", "route", "del", "local", f[1], "dev", "lo", "table", "local").Run()
		}
	}
	_ = exec.Command("nft", "delete", "table", "ip", "kube-proxy").Run()
	ns, _ := filepath.Glob("/run/netns/fargo-*")
	for _, n := range ns {
		_ = exec.Command("ip", "netns", "delete", filepath.Base(n)).Run()
	}
}

// removeCgroups removes fargo's (emptied) cgroups in every hierarchy, the
// cgroup2 one of a hybrid host included, deepest first: /fargo/<host>/<sandbox>/<container>.
func removeCgroups(t testing.TB) {
	for _, depth := range []string{"*/*/*", "*/*", "*", ""} {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "fargo", depth))
		for _, d := range dirs {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				if err := os.Remove(d); err != nil && depth == "" {
					t.Errorf("removing cgroup %s: %v", d, err)
				}
			}
		}
	}
}

// LeftoversOnHost lists what CRI and kubelets make outside the data dir: network
// namespaces and container log links.
func LeftoversOnHost() map[string]bool {
	seen := map[string]bool{}
	for _, pattern := range []string{"/run/netns/cni-*", "/var/log/containers/*"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			seen[p] = true
		}
	}
	return seen
}

// RemoveNodeLeftovers removes node-group nodes' cgroups, interfaces, and the
// netns and log links that appeared since before.
func RemoveNodeLeftovers(t testing.TB, before map[string]bool) {
	for p := range LeftoversOnHost() {
		if !before[p] {
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
			_ = os.Remove(p)
		}
	}
	if err := nodegroup.RemoveCgroups("/fargo-nodes"); err != nil {
		t.Error(err)
	}
	links, _ := filepath.Glob("/sys/class/net/fg[np]*")
	for _, l := range links {
		_ = exec.Command("ip", "link", "del", filepath.Base(l)).Run()
	}
	if left, _ := filepath.Glob("/sys/fs/cgroup/*/fargo-nodes"); len(left) > 0 {
		t.Errorf("node cgroups left: %v", left)
	}
}

// ClusterDir makes a data dir removed at the end with all a server and its nodes
// leave on the host, and writes config there; it returns both paths.
func ClusterDir(t testing.TB, prefix, config string) (dataDir, configFile string) {
	t.Helper()
	before := LeftoversOnHost()
	dataDir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { CleanupSandboxes(t, dataDir); RemoveNodeLeftovers(t, before); os.RemoveAll(dataDir) })
	configFile = filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return dataDir, configFile
}
