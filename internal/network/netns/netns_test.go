//go:build root

package netns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// A listener made in a namespace is there, not on the host: its port answers
// from inside only.
func TestListenerStaysInTheNamespace(t *testing.T) {
	name := fmt.Sprintf("fargo-test-netns-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	path := "/var/run/netns/" + name
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	var l net.Listener
	if err := Do(path, func() (err error) { l, err = net.Listen("tcp", "127.0.0.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := l.Addr().String()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s answered on the host", addr)
	}
	if err := Do(path, func() error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Errorf("dialling %s inside the namespace: %v", addr, err)
	}
	if err := Do("/var/run/netns/no-such-fargo-netns", func() error { return nil }); err == nil {
		t.Error("a missing namespace was entered")
	}
}
