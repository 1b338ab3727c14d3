package containerd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// A sandbox is, on the host: the network namespace the agent prepared, which its
// containers share; IPC and UTS namespaces and a /dev/shm (namespaces.go); a
// cgroup (/fargo/<host>/<id>) whose CPU quota and memory limit are the
// provisioned size and under which every container's cgroup sits; the pod's
// hosts, hostname and resolv.conf files (files.go); and a record of its spec
// under DIR/sandboxes/<id>.json.

const cgroupRoot = "/fargo"

// cfsPeriod is the CFS period the CPU quota is expressed in (kubelet's default).
const cfsPeriod = 100_000

// cgroupPath is the sandbox's cgroup: under the host's, so two agents on one
// machine never share one. The host's cgroup is kept when its last sandbox goes,
// so a sandbox being created beside a release never loses its parent.
func (r *Runtime) cgroupPath(id string) string { return cgroupRoot + "/" + r.host + "/" + id }

// CgroupPath is where sandbox id of host is limited to its size, for tests.
func CgroupPath(host, id string) string { return cgroupRoot + "/" + host + "/" + id }

func (r *Runtime) recordPath(id string) string { return filepath.Join(r.dir, "sandboxes", id+".json") }

// createSandbox makes the IPC and UTS namespaces, the pod files and the sized
// cgroup, then records the sandbox; each part is skipped when it exists.
func (r *Runtime) createSandbox(sb runtime.Sandbox) error {
	if err := r.pinNamespaces(sb.ID, sb.Hostname); err != nil {
		return err
	}
	if err := r.writePodFiles(sb.ID, sb.Files); err != nil {
		return err
	}
	mem := sb.MemoryMiB << 20
	quota, period := sb.MilliCPU*cfsPeriod/1000, uint64(cfsPeriod)
	cpus, err := r.sandboxCPUs(sb.ID, sb.MilliCPU)
	if err != nil {
		return err
	}
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, CPU: &specs.LinuxCPU{Quota: &quota, Period: &period, Cpus: cpus, Mems: memNodes()}}
	cg, err := cgroup1.Load(cgroup1.StaticPath(r.cgroupPath(sb.ID)))
	if err != nil {
		cg, err = cgroup1.New(cgroup1.StaticPath(r.cgroupPath(sb.ID)), res)
	} else {
		err = cg.Update(res)
	}
	if err != nil {
		return fmt.Errorf("creating cgroup %s (%d mCPU, %d MiB): %w", r.cgroupPath(sb.ID), sb.MilliCPU, sb.MemoryMiB, err)
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

// removeSandboxParts deletes the cgroup, namespaces, files and record
// (containers are gone); the host's cgroup goes with its last sandbox.
func (r *Runtime) removeSandboxParts(id string) error {
	errs := []error{r.releaseCompute(id)}
	for _, dir := range []string{filepath.Join(r.dir, "logs", id), r.fifoDir(id), r.filesDir(id)} { // names come back with their IPs
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(r.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// releaseCompute deletes the sandbox's cgroup and unpins its IPC and UTS
// namespaces (no task runs in them any more).
func (r *Runtime) releaseCompute(id string) error {
	var errs []error
	if err := r.unpinNamespaces(id); err != nil {
		errs = append(errs, err)
	}
	if cg, err := cgroup1.Load(cgroup1.StaticPath(r.cgroupPath(id))); err == nil {
		if err := cg.Delete(); err != nil {
			errs = append(errs, fmt.Errorf("deleting cgroup %s: %w", r.cgroupPath(id), err))
		}
	}
	// runc also makes each container's cgroup in the (empty) cgroup2 hierarchy
	// of a hybrid host; cgroup1 does not know it.
	if err := removeCgroupTree(filepath.Join("/sys/fs/cgroup/unified", r.cgroupPath(id))); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// oomKilled reports whether the kernel OOM-killed a process of the container
// (cgroup v1 counts oom_kill in the victim's own memory cgroup, under the
// sandbox's, whose limit triggered it).
func (r *Runtime) oomKilled(sandboxID, containerID string) bool {
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", r.cgroupPath(sandboxID), containerID, "memory.oom_control"))
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

// removeCgroupTree removes an empty cgroup directory and its children, deepest
// first; a missing one is fine.
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing cgroup %s: %w", dir, err)
	}
	return nil
}
