package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Stats implements runtime.Runtime from the sandbox's cgroup (v1): cpuacct's
// usage and memory's usage and high-water mark, which count every container
// below it.
func (r *Runtime) Stats(_ context.Context, id string) (runtime.Stats, error) {
	if _, err := r.loadSandbox(id); err != nil {
		return runtime.Stats{}, err
	}
	read := func(ctl, file string) (uint64, error) {
		data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctl, r.cgroupPath(id), file))
		if err != nil {
			return 0, fmt.Errorf("reading usage of sandbox %s: %w", id, err)
		}
		return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	}
	cpu, err := read("cpuacct", "cpuacct.usage")
	if err != nil {
		return runtime.Stats{}, err
	}
	mem, err := read("memory", "memory.usage_in_bytes")
	if err != nil {
		return runtime.Stats{}, err
	}
	peak, err := read("memory", "memory.max_usage_in_bytes")
	if err != nil {
		return runtime.Stats{}, err
	}
	return runtime.Stats{CPU: time.Duration(cpu), MemoryBytes: mem, MemoryMaxBytes: peak}, nil
}
