package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Stats implements runtime.Runtime from the sandbox's cgroup (v1): cpuacct's
// usage and memory's usage and high-water mark, which count every container
// below it; and each running container's own cgroup under it.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	if _, err := r.loadSandbox(id); err != nil {
		return runtime.Stats{}, err
	}
	u, err := readUsage(r.cgroupPath(id))
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("reading usage of sandbox %s: %w", id, err)
	}
	peak, err := readUint("memory", r.cgroupPath(id), "memory.max_usage_in_bytes")
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("reading usage of sandbox %s: %w", id, err)
	}
	st := runtime.Stats{CPU: u.CPU, MemoryBytes: u.MemoryBytes, MemoryMaxBytes: peak, WorkingSetBytes: u.WorkingSetBytes}
	ctx = r.ctx(ctx)
	list, err := r.containersOf(ctx, id)
	if err != nil {
		return st, err
	}
	for _, c := range list {
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata) // the listing's copy, as status reads it
		if err != nil {
			continue
		}
		cu, err := readUsage(r.cgroupPath(id) + "/" + c.ID())
		if err != nil {
			continue // not running: its cgroup went with its task
		}
		cu.Name = info.Labels[labelContainer]
		st.Containers = append(st.Containers, cu)
	}
	sort.Slice(st.Containers, func(i, j int) bool { return st.Containers[i].Name < st.Containers[j].Name })
	return st, nil
}

// readUsage reads the CPU time, memory usage and working set of a cgroup.
func readUsage(path string) (runtime.ContainerStats, error) {
	cpu, err := readUint("cpuacct", path, "cpuacct.usage")
	if err != nil {
		return runtime.ContainerStats{}, err
	}
	mem, err := readUint("memory", path, "memory.usage_in_bytes")
	if err != nil {
		return runtime.ContainerStats{}, err
	}
	inactive, err := memoryStat(path, "total_inactive_file")
	if err != nil {
		return runtime.ContainerStats{}, err
	}
	ws := uint64(0)
	if mem > inactive {
		ws = mem - inactive
	}
	return runtime.ContainerStats{CPU: time.Duration(cpu), MemoryBytes: mem, WorkingSetBytes: ws}, nil
}

func readUint(ctl, path, file string) (uint64, error) {
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctl, path, file))
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}

// memoryStat is one field of the cgroup's memory.stat.
func memoryStat(path, field string) (uint64, error) {
	data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", path, "memory.stat"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == field {
			return strconv.ParseUint(v, 10, 64)
		}
	}
	return 0, nil
}
