//go:build root

package cni

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Two hosts on one machine, one named after the other's prefix, each see only
// their own sandbox networks; teardown removes them.
func TestDataplanesOfTwoHosts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx := context.Background()
	a, ab := NewDataplane("dp-a", t.TempDir()), NewDataplane("dp-a-b", t.TempDir())
	for _, dp := range []*Dataplane{a, ab} {
		if _, err := dp.Setup(ctx, "ip-10-9-0-4", nil, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := dp.Teardown(ctx, "ip-10-9-0-4"); err != nil {
				t.Error(err)
			}
		})
	}
	for _, dp := range []*Dataplane{a, ab} {
		ids, err := dp.Sandboxes()
		if err != nil || !slices.Equal(ids, []string{"ip-10-9-0-4"}) {
			t.Errorf("%s: Sandboxes = %v, %v; want only its own ip-10-9-0-4", dp.Prefix, ids, err)
		}
	}
	if err := a.Teardown(ctx, "ip-10-9-0-4"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.NetnsPath("ip-10-9-0-4")); !os.IsNotExist(err) {
		t.Errorf("netns %s still there after teardown: %v", a.NetnsPath("ip-10-9-0-4"), err)
	}
	if _, err := os.Stat(ab.NetnsPath("ip-10-9-0-4")); err != nil {
		t.Errorf("the other host's netns went too: %v", err)
	}
}

// A half-made attach (eth0 made, the agent killed before the rest) does not block
// the next Setup.
func TestSetupAfterHalfMadeAttach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx := context.Background()
	// Addresses stay on the machine: the test's /24 is blackholed under the /32.
	_, subnet, _ := net.ParseCIDR("192.168.201.0/24")
	if out, err := exec.Command("ip", "route", "replace", "blackhole", subnet.String()).CombinedOutput(); err != nil {
		t.Fatalf("blackhole route: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "route", "del", "blackhole", subnet.String()).Run() })
	dp := NewDataplane("dp-half", t.TempDir())
	const id = "ip-192-168-201-7"
	ip := net.ParseIP("192.168.201.7")
	t.Cleanup(func() {
		if err := dp.Teardown(ctx, id); err != nil {
			t.Error(err)
		}
	})
	// The netns and this dataplane's record of it, as the cut-off Setup left them.
	if _, err := dp.Setup(ctx, id, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := ipCmd("-n", dp.name(id), "link", "add", "eth0", "type", "veth", "peer", "name", "half0"); err != nil {
		t.Fatal(err)
	}
	if _, err := dp.Setup(ctx, id, ip, subnet); err != nil {
		t.Fatalf("Setup after a half-made attach: %v", err)
	}
	out, err := exec.Command("ip", "-n", dp.name(id), "-4", "addr", "show", "eth0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "192.168.201.7") {
		t.Errorf("eth0 in the sandbox: %v %s", err, out)
	}
}

// A sandbox whose namespace creation was cut off before its bind mount (an
// empty file where the namespace should be) is torn down like any other.
func TestTeardownOfACutOffNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx := context.Background()
	dp := NewDataplane("dp-cut", t.TempDir())
	const id = "ip-192-168-202-7"
	t.Cleanup(func() { _ = os.Remove(dp.NetnsPath(id)) })
	if err := os.MkdirAll(filepath.Dir(dp.recordPath(id)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dp.recordPath(id), []byte(`{"ip":"192.168.202.7","subnet":"192.168.202.0/24"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dp.NetnsPath(id), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := dp.Teardown(ctx, id); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	for _, p := range []string{dp.NetnsPath(id), dp.recordPath(id)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after teardown: %v", p, err)
		}
	}
}

// A sandbox network another fargo left (its netns, or its route to the
// address) is not taken over: Setup says what is in the way and how to clear
// it, and leaves it as it was.
func TestSetupRefusesAnothersNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	ctx := context.Background()
	_, subnet, _ := net.ParseCIDR("192.168.203.0/24")
	other, mine := NewDataplane("dp-clash", t.TempDir()), NewDataplane("dp-clash", t.TempDir())
	const id = "ip-192-168-203-7"
	ip := net.ParseIP("192.168.203.7")
	if out, err := exec.Command("ip", "route", "replace", "blackhole", subnet.String()).CombinedOutput(); err != nil {
		t.Fatalf("blackhole route: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "route", "del", "blackhole", subnet.String()).Run() })
	if _, err := other.Setup(ctx, id, ip, subnet); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := other.Teardown(ctx, id); err != nil {
			t.Error(err)
		}
	})
	_, err := mine.Setup(ctx, id, ip, subnet)
	var conflict *ConflictError
	if !errors.As(err, &conflict) || !strings.Contains(err.Error(), other.NetnsPath(id)) || !strings.Contains(err.Error(), "fargo uninstall") {
		t.Fatalf("Setup over another's netns: %v; want a ConflictError naming it and fargo uninstall", err)
	}
	if ids, err := mine.Sandboxes(); err != nil || len(ids) != 0 {
		t.Errorf("Sandboxes lists another's network for the sweep: %v, %v", ids, err)
	}
	if out, err := exec.Command("ip", "-n", other.name(id), "-4", "addr", "show", "eth0").CombinedOutput(); err != nil || !strings.Contains(string(out), "192.168.203.7") {
		t.Errorf("the other's sandbox lost its address: %v %s", err, out)
	}
	// A route to an address alone (no netns) is in the way too.
	if err := ipCmd("route", "add", "192.168.203.8/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ipCmd("route", "del", "192.168.203.8/32", "dev", "lo") })
	if _, err := mine.Setup(ctx, "ip-192-168-203-8", net.ParseIP("192.168.203.8"), subnet); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "already routes 192.168.203.8") {
		t.Errorf("Setup over another's route: %v; want a ConflictError naming the route", err)
	}
}
