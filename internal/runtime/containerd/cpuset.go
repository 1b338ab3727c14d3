package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// cpusetFS is the cpuset hierarchy (cgroup v1).
const cpusetFS = "/sys/fs/cgroup/cpuset"

// sandboxCPUs picks the CPUs a sandbox of milliCPU may run on: as many as its
// whole vCPUs (at least one, at most the machine's), the least used by the
// host's other sandboxes first. Its CPU quota still caps it at its size; the
// cpuset makes nproc, sched_getaffinity and (through LXCFS) /proc/cpuinfo
// show the size, so what a pod sees is what it pays for. A sandbox that has
// its CPUs already keeps them.
func (r *Runtime) sandboxCPUs(id string, milliCPU int64) (string, error) {
	r.cpusetMu.Lock()
	defer r.cpusetMu.Unlock()
	all, err := parseCPUList(readTrim(filepath.Join(cpusetFS, "cpuset.effective_cpus")))
	if err != nil || len(all) == 0 {
		return "", fmt.Errorf("reading the machine's CPUs from %s: %w", cpusetFS, err)
	}
	want := int(min(max((milliCPU+999)/1000, 1), int64(len(all))))
	if own, err := parseCPUList(readTrim(filepath.Join(cpusetFS, r.cgroupPath(id), "cpuset.cpus"))); err == nil && len(own) == want {
		return formatCPUList(own), nil
	}
	used := map[int]int{}
	others, _ := filepath.Glob(filepath.Join(cpusetFS, cgroupRoot, r.host, "*", "cpuset.cpus"))
	for _, f := range others {
		if filepath.Base(filepath.Dir(f)) == id {
			continue
		}
		cpus, _ := parseCPUList(readTrim(f))
		for _, c := range cpus {
			used[c]++
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return used[all[i]] < used[all[j]] })
	picked := append([]int{}, all[:want]...)
	sort.Ints(picked)
	return formatCPUList(picked), nil
}

// memNodes is the machine's memory nodes, which a cpuset also needs.
func memNodes() string { return readTrim(filepath.Join(cpusetFS, "cpuset.effective_mems")) }

func readTrim(path string) string {
	data, _ := os.ReadFile(path)
	return strings.TrimSpace(string(data))
}

// parseCPUList reads the kernel's list format ("0-3,8").
func parseCPUList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("CPU list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// formatCPUList writes sorted CPUs as a comma-separated list.
func formatCPUList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}
