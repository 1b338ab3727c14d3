package guest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fargo-dev/fargo/internal/guest/api"
)

// usage reads a cgroup v2 directory's CPU time and memory; the working set is
// memory in use less inactive page cache, as kubelet counts it.
func usage(id, dir string) (*api.Usage, error) {
	cpu, err := statField(filepath.Join(dir, "cpu.stat"), "usage_usec")
	if err != nil {
		return nil, err
	}
	mem, err := readUint(filepath.Join(dir, "memory.current"))
	if err != nil {
		return nil, err
	}
	inactive, _ := statField(filepath.Join(dir, "memory.stat"), "inactive_file")
	ws := mem
	if inactive < ws {
		ws -= inactive
	} else {
		ws = 0
	}
	peak, _ := readUint(filepath.Join(dir, "memory.peak"))
	return &api.Usage{Id: id, CpuUsec: cpu, MemoryBytes: mem, WorkingSetBytes: ws, MemoryPeakBytes: peak}, nil
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// statField reads "key value" from a flat-keyed cgroup file.
func statField(path, key string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			return strconv.ParseUint(f[1], 10, 64)
		}
	}
	return 0, os.ErrNotExist
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}
