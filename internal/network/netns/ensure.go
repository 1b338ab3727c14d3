package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are pinned, as `ip netns` does.
const Dir = "/run/netns"

// Ensure makes the named namespace with lo up, keeping one already there, and
// returns its path. A stale file there (see DropStale) is replaced.
func Ensure(name string) (string, error) {
	path := filepath.Join(Dir, name)
	if err := DropStale(path); err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err == nil {
		return path, LoopbackUp(path)
	}
	return path, Create(name)
}

// DropStale removes the file at path if it is not a namespace's bind mount:
// one left by a creation cut off between the file and its mount (the agent
// killed). Entering it fails with EINVAL and CNI refuses it ("unknown FS
// magic"), so neither setup nor teardown could ever get past it.
func DropStale(path string) error {
	var st unix.Statfs_t
	err := unix.Statfs(path, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("checking network namespace %s: %w", path, err)
	case st.Type == unix.NSFS_MAGIC:
		return nil
	}
	return removeStale(path)
}

func removeStale(path string) error {
	_ = unix.Unmount(path, unix.MNT_DETACH) // whatever is mounted there is not a namespace
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s, left by a namespace creation cut off before its mount: %w", path, err)
	}
	return nil
}
