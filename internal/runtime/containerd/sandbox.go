package containerd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// A sandbox is, on the host: a network namespace (/run/netns/fargo-<id>) its
// containers share, IPC and UTS namespaces and a /dev/shm (namespaces.go), a cgroup (/fargo/<id>) whose CPU quota and memory limit are
// the provisioned size and under which every container's cgroup sits, and a
// record of its spec under DIR/sandboxes/<id>.json.

const cgroupRoot = "/fargo"

// cfsPeriod is the CFS period the CPU quota is expressed in (kubelet's default).
const cfsPeriod = 100_000

func netnsName(id string) string { return "fargo-" + id }

// NetnsPath is where the sandbox's network namespace is pinned.
func NetnsPath(id string) string { return filepath.Join("/run/netns", netnsName(id)) }

func cgroupPath(id string) string { return cgroupRoot + "/" + id }

func (r *Runtime) recordPath(id string) string { return filepath.Join(r.dir, "sandboxes", id+".json") }

// createSandbox makes the netns (loopback up), the IPC and UTS namespaces and the
// sized cgroup, then records
// the sandbox; each part is skipped when it exists.
func (r *Runtime) createSandbox(sb runtime.Sandbox) error {
	if _, err := os.Stat(NetnsPath(sb.ID)); errors.Is(err, os.ErrNotExist) {
		if out, err := exec.Command("ip", "netns", "add", netnsName(sb.ID)).CombinedOutput(); err != nil {
			return fmt.Errorf("creating network namespace %s: %v: %s", netnsName(sb.ID), err, strings.TrimSpace(string(out)))
		}
	}
	if out, err := exec.Command("ip", "-n", netnsName(sb.ID), "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("bringing up loopback in %s: %v: %s", netnsName(sb.ID), err, strings.TrimSpace(string(out)))
	}
	if err := r.pinNamespaces(sb.ID, sb.Hostname); err != nil {
		return err
	}
	mem := sb.MemoryMiB << 20
	quota, period := sb.MilliCPU*cfsPeriod/1000, uint64(cfsPeriod)
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, CPU: &specs.LinuxCPU{Quota: &quota, Period: &period}}
	cg, err := cgroup1.Load(cgroup1.StaticPath(cgroupPath(sb.ID)))
	if err != nil {
		cg, err = cgroup1.New(cgroup1.StaticPath(cgroupPath(sb.ID)), res)
	} else {
		err = cg.Update(res)
	}
	if err != nil {
		return fmt.Errorf("creating cgroup %s (%d mCPU, %d MiB): %w", cgroupPath(sb.ID), sb.MilliCPU, sb.MemoryMiB, err)
	}
	data, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.recordPath(sb.ID)), 0o700); err != nil {
		return fmt.Errorf("recording sandbox %s: %w", sb.ID, err)
	}
	if err := os.WriteFile(r.recordPath(sb.ID), data, 0o600); err != nil {
		return fmt.Errorf("recording sandbox %s: %w", sb.ID, err)
	}
	return nil
}

// loadSandbox reads a sandbox's record.
func (r *Runtime) loadSandbox(id string) (runtime.Sandbox, error) {
	var sb runtime.Sandbox
	data, err := os.ReadFile(r.recordPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return sb, fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return sb, fmt.Errorf("reading sandbox %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &sb); err != nil {
		return sb, fmt.Errorf("reading sandbox %s: %w", id, err)
	}
	return sb, nil
}

// removeSandboxParts deletes the cgroup, namespaces and record (containers are
// gone).
func (r *Runtime) removeSandboxParts(id string) error {
	var errs []error
	if err := r.unpinNamespaces(id); err != nil {
		errs = append(errs, err)
	}
	if cg, err := cgroup1.Load(cgroup1.StaticPath(cgroupPath(id))); err == nil {
		if err := cg.Delete(); err != nil {
			errs = append(errs, fmt.Errorf("deleting cgroup %s: %w", cgroupPath(id), err))
		}
	}
	if _, err := os.Stat(NetnsPath(id)); err == nil {
		if out, err := exec.Command("ip", "netns", "delete", netnsName(id)).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("deleting network namespace %s: %v: %s", netnsName(id), err, strings.TrimSpace(string(out))))
		}
	}
	if err := os.RemoveAll(filepath.Join(r.dir, "logs", id)); err != nil { // names come back with their IPs
		errs = append(errs, err)
	}
	if err := os.Remove(r.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// oomKilled reports whether the kernel OOM-killed a process of the container
// (cgroup v1 counts oom_kill in the victim's own memory cgroup, under the
// sandbox's, whose limit triggered it).
func oomKilled(sandboxID, containerID string) bool {
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", cgroupPath(sandboxID), containerID, "memory.oom_control"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
			return true
		}
	}
	return false
}

// sandboxIDs lists the recorded sandboxes.
func (r *Runtime) sandboxIDs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(r.dir, "sandboxes"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
