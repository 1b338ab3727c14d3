package agent

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/tiers"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// RuntimeNone runs no agent on this machine.
const RuntimeNone = "none"

// DefaultCPUOvercommit is the vCPU a host offers per CPU of the machine: a
// sandbox's vCPU is a CFS quota, a ceiling sandboxes share in time, and Fargate
// pods mostly idle below their size, so a 2-core machine offers 8 vCPU (the
// seed walkthrough's pods need 3). Memory is not overcommitted by default: a
// sandbox's memory is a hard limit, and an overcommitted host runs out of it.
const (
	DefaultCPUOvercommit    = 4
	DefaultMemoryOvercommit = 1
)

// Options are the host flags shared by `fargo server` (its built-in agent) and
// `fargo agent`.
type Options struct {
	Runtime  string
	HostName string
	CPU      string
	// CPUOvercommit multiplies the machine's CPUs into the vCPU offered, and
	// MemoryOvercommit its memory into the memory offered (0: the default).
	CPUOvercommit    float64
	Memory           string
	MemoryOvercommit float64
	MaxSandboxes     int64
	// InsecureRegistries are reached over plain HTTP (loopback ones always are).
	InsecureRegistries []string
	// KubeletAPIAddress is where the kubelet API of this host's nodes listens.
	KubeletAPIAddress string
}

// AddFlags registers the host flags on fs; none adds --runtime none.
func (o *Options) AddFlags(fs *pflag.FlagSet, none string) {
	help := "sandbox runtime: " + runtime.Describe() + "; or a list, e.g. containerd,microvm: each profile's fargo.dev/isolation tag picks the tier, the first by default"
	if none != "" {
		help += ", " + RuntimeNone + " (" + none + ")"
	}
	fs.StringVar(&o.Runtime, "runtime", "containerd", help)
	fs.StringVar(&o.HostName, "host-name", "", "name of this host's Host object (default: the machine's hostname)")
	fs.StringVar(&o.CPU, "host-cpu", "", "vCPU this host offers to sandboxes, as a quantity (\"8\", \"3500m\"); default: the machine's CPUs × --cpu-overcommit")
	fs.Float64Var(&o.CPUOvercommit, "cpu-overcommit", 0, "vCPU offered per CPU of the machine when --host-cpu is not given, from 1 (none) to 64 (default 4, so a 2-core machine offers 8 vCPU; overrides fargo.host.cpuOvercommit): a sandbox's vCPU is a CFS quota, a ceiling that sandboxes share in time, and each sandbox's quota stays its provisioned size")
	fs.StringVar(&o.Memory, "host-memory", "", "memory this host offers to sandboxes, as a quantity (\"16Gi\"); default: the machine's memory × --memory-overcommit")
	fs.Float64Var(&o.MemoryOvercommit, "memory-overcommit", 0, "memory offered per byte of the machine's when --host-memory is not given, from 1 (none, the default) to 64 (overrides fargo.host.memoryOvercommit); each sandbox's memory limit stays its provisioned size, so an overcommitted host can run out of memory")
	fs.Int64Var(&o.MaxSandboxes, "max-sandboxes", 0, "most sandboxes this host runs at once; 0: no limit beyond CPU and memory")
	fs.StringSliceVar(&o.InsecureRegistries, "insecure-registry", nil, "registry (host:port) to pull from over plain HTTP, repeatable; registries on loopback addresses always are, all others use HTTPS")
	fs.StringVar(&o.KubeletAPIAddress, "kubelet-api-address", "127.0.0.1:0", "host:port where the kubelet API of this host's Fargate nodes listens (kubectl logs, exec); port 0 picks a free one, published on the Host object for the server's egress proxy; use an address the server can reach when the agent runs on another machine")
}

// Enabled is false for --runtime none: no agent on this machine.
func (o *Options) Enabled() bool { return o.Runtime != RuntimeNone }

// Cluster is what an agent needs to know of its cluster.
type Cluster struct {
	Region string
	// VPC is routed to a blackhole on the host, under the sandboxes' /32 routes.
	VPC *net.IPNet
	// DNS is the cluster DNS service's address, for pods' resolv.conf.
	DNS net.IP
	// Services is the service CIDR, routed locally on the host (nil: an
	// older server that does not publish it).
	Services *net.IPNet
	// CA is the cluster CA: it signs the apiserver's client certificate.
	CA *x509.Certificate
}

// Config resolves the flags into an agent configuration with its runtime; the
// containerd runtime starts fargo's containerd under dataDir, logging to logDir.
// The caller closes cfg.Runtime.
func (o *Options) Config(ctx context.Context, cluster Cluster, kubeletVersion, dataDir, logDir string, warn func(error)) (Config, error) {
	cfg := Config{Region: cluster.Region, KubeletVersion: kubeletVersion, HostName: o.HostName, DataDir: dataDir, ClusterDNS: cluster.DNS,
		VPC: cluster.VPC, Services: cluster.Services, CA: cluster.CA, KubeletAPIAddress: o.KubeletAPIAddress}
	if cfg.HostName == "" {
		h, err := os.Hostname()
		if err != nil {
			return cfg, fmt.Errorf("finding the machine's hostname (set --host-name): %w", err)
		}
		cfg.HostName = strings.ToLower(h)
	}
	cpuRatio, err := overcommit("--cpu-overcommit", o.CPUOvercommit, DefaultCPUOvercommit, "--host-cpu", o.CPU)
	if err != nil {
		return cfg, err
	}
	memRatio, err := overcommit("--memory-overcommit", o.MemoryOvercommit, DefaultMemoryOvercommit, "--host-memory", o.Memory)
	if err != nil {
		return cfg, err
	}
	cpu, err := quantity("--host-cpu", o.CPU, 0)
	if err != nil {
		return cfg, err
	}
	machineCPU := int64(goruntime.NumCPU()) * 1000
	if o.CPU == "" {
		cpu = *resource.NewMilliQuantity(int64(float64(machineCPU)*cpuRatio), resource.DecimalSI)
	}
	memBytes, err := machineMemory()
	if err != nil && o.Memory == "" {
		return cfg, fmt.Errorf("%w (set --host-memory)", err)
	}
	mem, err := quantity("--host-memory", o.Memory, int64(float64(memBytes)*memRatio))
	if err != nil {
		return cfg, err
	}
	cfg.Machine = v1alpha1.HostMachine{MilliCPU: machineCPU, MemoryMiB: memBytes >> 20}
	if o.MaxSandboxes < 0 {
		return cfg, fmt.Errorf("--max-sandboxes %d: must be 0 (no limit) or more", o.MaxSandboxes)
	}
	cfg.Capacity = v1alpha1.HostCapacity{MilliCPU: cpu.MilliValue(), MemoryMiB: mem.Value() >> 20, Sandboxes: o.MaxSandboxes}
	for _, r := range o.InsecureRegistries {
		if r == "" || strings.ContainsAny(r, "/ ") {
			return cfg, fmt.Errorf("--insecure-registry %q: want a registry host or host:port, without scheme or path (e.g. registry.lan:5000)", r)
		}
	}
	if _, _, err := net.SplitHostPort(o.KubeletAPIAddress); o.KubeletAPIAddress != "" && err != nil {
		return cfg, fmt.Errorf("--kubelet-api-address %q: want host:port, e.g. 0.0.0.0:10250: %w", o.KubeletAPIAddress, err)
	}
	cfgOf := func(name string) runtime.Config {
		return runtime.Config{Dir: filepath.Join(dataDir, name), LogFile: filepath.Join(logDir, name+".log"),
			Host: cfg.HostName, InsecureRegistries: o.InsecureRegistries, Warn: warn}
	}
	rt, err := startRuntime(ctx, o.Runtime, cfgOf)
	if err != nil {
		if errors.Is(err, runtime.ErrUnknown) {
			return cfg, fmt.Errorf("--runtime %q: %w, or %s (no agent on this machine)", o.Runtime, err, RuntimeNone)
		}
		return cfg, fmt.Errorf("--runtime %s: %w", o.Runtime, err)
	}
	cfg.Runtime = rt
	return cfg, nil
}

// startRuntime starts the backend called spec, or, for a list such as
// containerd,microvm, each of them behind one runtime that gives every sandbox
// the backend of its profile's tier (the first by default).
func startRuntime(ctx context.Context, spec string, cfgOf func(string) runtime.Config) (runtime.Runtime, error) {
	names := strings.Split(spec, ",")
	if len(names) == 1 {
		return runtime.New(ctx, spec, cfgOf(spec))
	}
	backends, err := runtime.NewEach(ctx, names, cfgOf)
	if err != nil {
		return nil, err
	}
	rt, err := tiers.New(backends...)
	if err != nil {
		for _, b := range backends {
			b.Close()
		}
		return nil, err
	}
	return rt, nil
}

// overcommit is a ratio flag's value: def when unset, refused outside 1–64 or
// beside the flag (exact) that sets the offer itself.
func overcommit(flag string, ratio, def float64, exact, exactValue string) (float64, error) {
	switch {
	case ratio == 0:
		return def, nil
	case ratio < 1 || ratio > 64:
		return 0, fmt.Errorf("%s %g: must be from 1 (no overcommit) to 64", flag, ratio)
	case exactValue != "":
		return 0, fmt.Errorf("%s %g with %s %s: %s sets the offer itself; give one of them", flag, ratio, exact, exactValue, exact)
	}
	return ratio, nil
}

func quantity(flag, s string, def int64) (resource.Quantity, error) {
	if s == "" {
		return *resource.NewQuantity(def, resource.DecimalSI), nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() <= 0 {
		return q, fmt.Errorf("%s %q: want a positive quantity such as 8, 3500m or 16Gi", flag, s)
	}
	return q, nil
}

// machineMemory is MemTotal from /proc/meminfo, in bytes.
func machineMemory() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading the machine's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("reading the machine's memory: no MemTotal in /proc/meminfo")
}
