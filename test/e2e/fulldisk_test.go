//go:build e2e

package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// loopFilesystem mounts a new ext4 filesystem of size bytes at dir (made if
// missing), with no blocks reserved for root, and removes it at cleanup.
func loopFilesystem(t *testing.T, dir string, size int64) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-m", "0", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// -o loop sets autoclear: the loop device goes with the last unmount.
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting %s: %v\n%s", img, err, out)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
}

// fillFilesystem takes every free block of dir's filesystem into one file, until
// the filesystem says it is full, as a big download would, and returns the file.
// Called again, it takes what has been freed since into the same file.
func fillFilesystem(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	start := fi.Size()
	off := start
	for _, step := range []int64{1 << 20, 4 << 10} {
		for {
			err := unix.Fallocate(int(f.Fd()), 0, off, step)
			if errors.Is(err, unix.ENOSPC) {
				break
			}
			if err != nil {
				t.Fatalf("filling %s: %v", path, err)
			}
			off += step
		}
	}
	t.Logf("filled etcd's filesystem with %d MiB more", (off-start)>>20)
	return path
}

// etcdLogsOnTerminal reports lines of the etcd client's JSON log in out: they
// belong in DATA/logs/stderr.log, not among fargo's messages.
func etcdLogsOnTerminal(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"logger":"etcd-client"`) {
			lines = append(lines, l)
		}
	}
	return lines
}
