//go:build root

package netns

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Create makes a namespace `ip` sees, distinct from the host's, with lo up;
// LoopbackUp brings lo up in one made without it.
func TestCreateAndLoopbackUp(t *testing.T) {
	name := fmt.Sprintf("fargo-test-create-%d", os.Getpid())
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	if err := Create(name); err != nil {
		t.Fatal(err)
	}
	var ns, host syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+name, &ns); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat("/proc/self/ns/net", &host); err != nil {
		t.Fatal(err)
	}
	if ns.Ino == host.Ino {
		t.Fatal("the new namespace is the host's")
	}
	if !loUp(t, name) {
		t.Error("lo is down in the created namespace")
	}
	if err := Create(name); err == nil {
		t.Error("a second Create of the same name succeeded")
	}

	bare := name + "-bare"
	if out, err := exec.Command("ip", "netns", "add", bare).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", bare).Run() })
	if loUp(t, bare) {
		t.Fatal("lo is up in a namespace just made by ip")
	}
	if err := LoopbackUp("/run/netns/" + bare); err != nil {
		t.Fatal(err)
	}
	if !loUp(t, bare) {
		t.Error("lo still down after LoopbackUp")
	}
	if err := LoopbackUp("/run/netns/no-such-fargo-netns"); err == nil {
		t.Error("LoopbackUp of a missing namespace succeeded")
	}
}

// loUp reports whether lo is up in the named namespace, as `ip` sees it.
func loUp(t *testing.T, name string) bool {
	t.Helper()
	out, err := exec.Command("ip", "-n", name, "-o", "link", "show", "lo").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show lo: %v: %s", err, out)
	}
	return strings.Contains(string(out), "<LOOPBACK,UP")
}
