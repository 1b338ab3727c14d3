package containerd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/fargo-dev/fargo/internal/datadir"
)

// LXCFS (Debian's lxcfs) is a FUSE filesystem whose /proc files answer for the
// cgroup of the process reading them: bind-mounted over a container's own,
// free -m shows the sandbox's memory limit and /proc/cpuinfo its CPUs, not
// the host's. One instance serves every sandbox of the agent; it runs in its
// own process group and outlives the agent, as containerd does, so the
// containers' mounts stay connected across agent restarts.

// lxcfsFiles are the files mounted over a container's own; runc allows these
// /proc paths for exactly this.
var lxcfsFiles = []string{"/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/uptime", "/proc/swaps", "/proc/diskstats", "/sys/devices/system/cpu/online"}

// startLXCFS adopts the LXCFS mounted at dir/lxcfs, or starts one there, and
// returns the mount point; without the lxcfs binary it returns an error that
// says what pods lose.
func startLXCFS(dir, logFile string) (string, error) {
	mp := filepath.Join(dir, "lxcfs")
	if lxcfsAnswers(mp) {
		return mp, nil
	}
	bin, err := exec.LookPath("lxcfs")
	if err != nil {
		return "", errors.New("lxcfs not found (install Debian's lxcfs): free -m and /proc/cpuinfo in Fargate pods show the host's memory and CPUs, not their size")
	}
	// A mount whose daemon died answers ENOTCONN; a new one goes over it.
	_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	if err := os.MkdirAll(mp, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", mp, err)
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", fmt.Errorf("opening the LXCFS log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "--foreground", "--pidfile", filepath.Join(dir, "lxcfs.pid"), mp)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	datadir.Mark(cmd, dir)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting lxcfs: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			return "", fmt.Errorf("lxcfs exited at start: %v (log: %s)", err, logFile)
		default:
		}
		if lxcfsAnswers(mp) {
			return mp, nil
		}
	}
	_ = cmd.Process.Kill()
	return "", fmt.Errorf("lxcfs did not answer at %s within 10s (log: %s)", mp, logFile)
}

// lxcfsAnswers reports whether an LXCFS at mp serves its files.
func lxcfsAnswers(mp string) bool {
	data, err := os.ReadFile(filepath.Join(mp, "proc", "meminfo"))
	return err == nil && strings.HasPrefix(string(data), "MemTotal:")
}

// lxcfsMounts mount LXCFS's files over the container's, when it runs.
func (r *Runtime) lxcfsMounts() []specs.Mount {
	if r.lxcfs == "" {
		return nil
	}
	var out []specs.Mount
	for _, f := range lxcfsFiles {
		src := filepath.Join(r.lxcfs, f)
		if _, err := os.Stat(src); err == nil {
			out = append(out, specs.Mount{Destination: f, Type: "bind", Source: src, Options: []string{"bind", "ro"}})
		}
	}
	return out
}
