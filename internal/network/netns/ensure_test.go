//go:build root

package netns

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Ensure replaces the empty file a creation cut off before its bind mount
// leaves (entering it fails with EINVAL), and keeps a namespace already there.
func TestEnsureReplacesAFileThatIsNoNamespace(t *testing.T) {
	name := fmt.Sprintf("fargo-test-ensure-%d", os.Getpid())
	path := filepath.Join(Dir, name)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", name).Run()
		_ = os.Remove(path)
	})
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := LoopbackUp(path); err == nil {
		t.Fatal("LoopbackUp of a plain file succeeded: the test does not reproduce the leftover")
	}
	got, err := Ensure(name)
	if err != nil {
		t.Fatal(err)
	}
	if got != path {
		t.Errorf("Ensure returned %s, want %s", got, path)
	}
	if err := LoopbackUp(path); err != nil {
		t.Fatalf("after Ensure %s is no namespace: %v", path, err)
	}
	if !loUp(t, name) {
		t.Error("lo is down in the namespace Ensure made")
	}

	before := inode(t, path)
	if _, err := Ensure(name); err != nil {
		t.Fatal(err)
	}
	if after := inode(t, path); after != before {
		t.Errorf("a second Ensure replaced the namespace (inode %d, was %d)", after, before)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
