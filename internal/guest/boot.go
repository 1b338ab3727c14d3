package guest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Boot prepares the guest as PID 1: filesystems, modules, cgroups and the
// host's share. Errors are fatal: a guest without them cannot run a pod.
func Boot() error {
	// The kernel starts init with no PATH.
	_ = os.Setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
	for _, m := range []struct{ src, dst, kind, data string }{
		{"dev", "/dev", "devtmpfs", ""},
		{"proc", "/proc", "proc", ""},
		{"sys", "/sys", "sysfs", ""},
		{"devpts", "/dev/pts", "devpts", "newinstance,ptmxmode=0666"},
		{"shm", "/dev/shm", "tmpfs", "mode=1777"},
		{"run", "/run", "tmpfs", "mode=0755"},
		{"tmp", "/tmp", "tmpfs", "mode=1777"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", m.dst, err)
		}
		if err := unix.Mount(m.src, m.dst, m.kind, unix.MS_NOSUID, m.data); err != nil && err != unix.EBUSY {
			return fmt.Errorf("mounting %s on %s: %w", m.kind, m.dst, err)
		}
	}
	if err := loadModules(ModulesDir); err != nil {
		return err
	}
	if err := os.MkdirAll("/sys/fs/cgroup", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "nsdelegate"); err != nil {
		return fmt.Errorf("mounting cgroup2: %w", err)
	}
	if err := enableControllers("/sys/fs/cgroup"); err != nil {
		return err
	}
	if err := os.MkdirAll(CgroupRoot, 0o755); err != nil {
		return fmt.Errorf("creating the pod cgroup: %w", err)
	}
	if err := enableControllers(CgroupRoot); err != nil {
		return err
	}
	if err := os.MkdirAll(Share, 0o755); err != nil {
		return err
	}
	// msize: 9p's largest message; bigger is fewer round trips per read.
	if err := unix.Mount(ShareTag, Share, "9p", 0, "trans=virtio,version=9p2000.L,msize=262144"); err != nil {
		return fmt.Errorf("mounting the host's share (9p %s): %w", ShareTag, err)
	}
	for _, d := range []string{runcRoot, bundles} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0"), 0o644)
}

// enableControllers delegates every controller of dir to its children.
func enableControllers(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("reading controllers of %s: %w", dir, err)
	}
	var on []string
	for _, c := range strings.Fields(string(b)) {
		on = append(on, "+"+c)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(on, " ")), 0o644); err != nil {
		return fmt.Errorf("enabling controllers %v in %s: %w", on, dir, err)
	}
	return nil
}

// loadModules loads the modules named in dir/order, one per line, in order
// (the image builder resolved their dependencies).
func loadModules(dir string) error {
	f, err := os.Open(filepath.Join(dir, "order"))
	if err != nil {
		return fmt.Errorf("reading the module list: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		if err := loadModule(filepath.Join(dir, name+".ko")); err != nil {
			return err
		}
	}
	return sc.Err()
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("loading module: %w", err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return fmt.Errorf("loading module %s: %w", filepath.Base(path), err)
	}
	return nil
}
