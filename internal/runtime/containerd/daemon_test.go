//go:build root

package containerd_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	ctdclient "github.com/containerd/containerd/v2/client"

	"github.com/fargo-dev/fargo/internal/runtime/containerd"
)

// startDaemon starts fargo's containerd in a new short temp dir (the socket path
// has a length limit), stopped and removed when the test ends.
func startDaemon(t *testing.T) (*containerd.Daemon, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir, err := os.MkdirTemp("", "fargo-ctd-")
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
	})
	return d, dir
}

// containerd killed with SIGKILL is started again, and a client connected before
// works after.
func TestDaemonRestartedAfterKill(t *testing.T) {
	d, _ := startDaemon(t)
	rt, err := containerd.New(d.Socket, d.Dir, host)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	first := d.Pid()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for d.Restarts.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("containerd not started again 30 s after kill -9")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.Pid() == first || d.Pid() == 0 {
		t.Errorf("pid after restart %d, before %d", d.Pid(), first)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rt.Version(ctx); err != nil {
		t.Errorf("the client connected before the kill does not work after: %v", err)
	}
}

// A containerd adopted from an earlier fargo (not this process's child) is
// watched through its socket and started again when it dies.
func TestAdoptedDaemonRestartedAfterKill(t *testing.T) {
	dir, pid, _ := startOrphan(t)
	adopted, err := containerd.StartDaemon(context.Background(), filepath.Join(dir, "containerd"), filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	if adopted.Pid() != 0 {
		t.Fatalf("StartDaemon ran its own containerd (%d) beside the orphan %d", adopted.Pid(), pid)
	}
	t.Cleanup(func() {
		if err := adopted.Stop(); err != nil {
			t.Error(err)
		}
	})
	if adopted.Pid() != 0 {
		t.Fatalf("the second start ran its own containerd (%d) beside %d", adopted.Pid(), pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for adopted.Restarts.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("an adopted containerd not started again 30 s after kill -9")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func serving(socket string) bool {
	c, err := ctdclient.New(socket, ctdclient.WithTimeout(time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ok, err := c.IsServing(ctx)
	return err == nil && ok
}

// Stop ends an adopted containerd too: it is fargo's, whoever started it.
func TestStopEndsAnAdoptedDaemon(t *testing.T) {
	dir, _, exited := startOrphan(t)
	adopted, err := containerd.StartDaemon(context.Background(), filepath.Join(dir, "containerd"), filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := adopted.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the adopted containerd still runs 10 s after Stop")
	}
}

// startOrphan leaves a containerd as an earlier fargo would: started by a daemon
// that is gone, so not this process's supervised child. It returns the data dir,
// the orphan's pid, and a channel closed when it exits.
func startOrphan(t *testing.T) (string, int, <-chan struct{}) {
	t.Helper()
	first, dir := startDaemon(t)
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	orphan := exec.Command("containerd", "--config", filepath.Join(dir, "containerd", "config.toml"))
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = orphan.Wait(); close(exited) }()
	t.Cleanup(func() { _ = orphan.Process.Kill() })
	socket := filepath.Join(dir, "containerd", "containerd.sock")
	for start := time.Now(); !serving(socket); time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the orphan containerd does not answer")
		}
	}
	return dir, orphan.Process.Pid, exited
}
