package containerd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// A pod's containers share IPC and UTS namespaces and a /dev/shm, as Kubernetes
// defines (each keeps its own PID and mount namespace). fargo has no pause
// container to hold them, so the sandbox pins them on the host as `ip netns`
// pins network namespaces: bind mounts of the namespace files under
// DIR/ns/<id>/, and a tmpfs for /dev/shm beside them.

// shmSize is /dev/shm's size, as containerd's and Docker's default.
const shmSize = "size=65536k"

func (r *Runtime) nsDir(id string) string { return filepath.Join(r.dir, "ns", id) }

// nsPath is where the sandbox's namespace of kind (ipc, uts) is pinned.
func (r *Runtime) nsPath(id, kind string) string { return filepath.Join(r.nsDir(id), kind) }

// shmPath is the sandbox's /dev/shm on the host.
func (r *Runtime) shmPath(id string) string { return filepath.Join(r.nsDir(id), "shm") }

// pinNamespaces creates the sandbox's IPC and UTS namespaces, with the hostname
// set, and its /dev/shm; parts already there are kept.
func (r *Runtime) pinNamespaces(id, hostname string) error {
	dir := r.nsDir(id)
	if err := os.MkdirAll(r.shmPath(id), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if !mounted(r.shmPath(id)) {
		if err := unix.Mount("shm", r.shmPath(id), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, shmSize+",mode=1777"); err != nil {
			return fmt.Errorf("mounting the sandbox's /dev/shm at %s: %w", r.shmPath(id), err)
		}
	}
	if mounted(r.nsPath(id, "ipc")) && mounted(r.nsPath(id, "uts")) {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		// The thread enters new namespaces and is never unlocked: Go ends it with
		// the goroutine instead of reusing it.
		goruntime.LockOSThread()
		done <- r.pinThreadNamespaces(id, hostname)
	}()
	return <-done
}

func (r *Runtime) pinThreadNamespaces(id, hostname string) error {
	if err := unix.Unshare(unix.CLONE_NEWIPC | unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("creating IPC and UTS namespaces: %w", err)
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("setting hostname %q: %w", hostname, err)
	}
	for _, kind := range []string{"ipc", "uts"} {
		path := r.nsPath(id, kind)
		if mounted(path) {
			_ = unix.Unmount(path, unix.MNT_DETACH) // half-made by an interrupted start
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			return fmt.Errorf("pinning the %s namespace: %w", kind, err)
		}
		if err := unix.Mount("/proc/thread-self/ns/"+kind, path, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pinning the %s namespace at %s: %w", kind, path, err)
		}
	}
	return nil
}

// unpinNamespaces unmounts and removes what pinNamespaces made.
func (r *Runtime) unpinNamespaces(id string) error {
	var errs []error
	for _, p := range []string{r.nsPath(id, "ipc"), r.nsPath(id, "uts"), r.shmPath(id)} {
		if mounted(p) {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", p, err))
			}
		}
	}
	if err := os.RemoveAll(r.nsDir(id)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// mounted reports whether something is mounted at path (its device or inode
// differs from an ordinary file's in its directory).
func mounted(path string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(path, &st) != nil || unix.Stat(filepath.Dir(path), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
