// Package runtime is the seam between the host agent and what actually runs a
// sandbox and its containers. Backends live beside it (containerd/, fake/, later a
// micro-VM backend), register themselves by name (registry.go), say what they can
// do (Capabilities), and every backend passes the suite in conformance/.
//
// The shape follows the CRI that kubelet drives (sandbox, image, container), cut
// down to what one Fargate pod per sandbox needs, and containerd's sandbox
// controller: the agent prepares the network and hands the backend a netns path;
// DNS and hosts entries come as data, so a VM backend can write them in its guest.
// Every call is idempotent, so an agent restarted in the middle of a step simply
// repeats it.
package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// ErrNotFound is returned for a sandbox or container the backend does not have.
var ErrNotFound = errors.New("not found")

// Sandbox is one isolated, right-sized environment for one pod.
type Sandbox struct {
	// ID is the Sandbox object's name (ip-a-b-c-d): unique per host.
	ID        string
	Namespace string
	Pod       string
	PodUID    string
	// Hostname is the pod's hostname (the pod name, as Kubernetes sets it).
	Hostname string
	// IP is the sandbox's address in the VPC; the node's InternalIP too.
	IP net.IP
	// Subnet is IP's subnet; the sandbox's default route is its router address.
	Subnet *net.IPNet
	// NetnsPath is the network namespace the agent prepared (attached to the VPC)
	// for backends with Capabilities.HostNetwork; empty for the others.
	NetnsPath string
	// MilliCPU and MemoryMiB are the provisioned size: the sandbox's cgroup limits.
	MilliCPU  int64
	MemoryMiB int64
	// Files are what every container sees at /etc/hosts, /etc/hostname and
	// /etc/resolv.conf, unless it mounts something of its own there.
	Files PodFiles
	// Isolation is the tier asked for (IsolationContainer, IsolationMicroVM);
	// empty: the backend's own. A backend runs only its own tier; a host with
	// several (internal/runtime/tiers) picks the backend by it.
	Isolation string
}

// PodFiles are the files kubelet (and the CRI runtime) manage in every container.
type PodFiles struct {
	Hosts, Hostname, ResolvConf string
}

// Capabilities say what a backend does, so the agent asks instead of comparing
// names.
type Capabilities struct {
	// HostNetwork: sandboxes join a netns the agent prepares on the host, the host
	// routes to them, and the host's service proxy serves them.
	HostNetwork bool
	// Processes: containers really run (logs, exec and probes reach real
	// processes); false for the fake.
	Processes bool
	// Isolation is what isolates a sandbox: IsolationContainer (the host's
	// kernel; the default when empty) or IsolationMicroVM (its own kernel).
	Isolation string
}

// Isolation tiers, as nodes are labelled with them (fargo.dev/isolation).
const (
	IsolationContainer = "container"
	IsolationMicroVM   = "microvm"
)

// IsolationsOf are the tiers a backend runs sandboxes in, its default first.
func IsolationsOf(rt Runtime) []string {
	if t, ok := rt.(interface{ Isolations() []string }); ok {
		return t.Isolations()
	}
	return []string{IsolationOf(rt)}
}

// VersionFor is the version of rt's backend for sandboxes of isolation ("":
// the default), as a node shows it.
func VersionFor(ctx context.Context, rt Runtime, isolation string) (string, error) {
	if t, ok := rt.(interface {
		VersionFor(context.Context, string) (string, error)
	}); ok {
		return t.VersionFor(ctx, isolation)
	}
	return rt.Version(ctx)
}

// IsolationOf is the isolation tier of a backend (its default, with several).
func IsolationOf(rt Runtime) string {
	if i := rt.Capabilities().Isolation; i != "" {
		return i
	}
	return IsolationContainer
}

// Stats are a sandbox's resource usage so far, read from its cgroup (or guest).
type Stats struct {
	// CPU is the CPU time used by all of the sandbox's containers.
	CPU time.Duration
	// MemoryBytes is the memory in use now, and MemoryMaxBytes the most ever used.
	MemoryBytes, MemoryMaxBytes uint64
	// WorkingSetBytes is the memory in use less the page cache the kernel can
	// reclaim, as kubelet reports (and evicts by) it.
	WorkingSetBytes uint64
	// Containers are the running containers' own usage.
	Containers []ContainerStats
}

// ContainerStats is one running container's usage so far.
type ContainerStats struct {
	Name                         string
	CPU                          time.Duration
	MemoryBytes, WorkingSetBytes uint64
}

// Mount is a host path made visible in a container.
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
}

// Container is what to run in a sandbox.
type Container struct {
	Name       string
	Image      string
	Command    []string // entrypoint; empty means the image's
	Args       []string // empty means the image's
	Env        []string // KEY=value
	WorkingDir string
	Mounts     []Mount
	// User and Group override the image's user when set (Group alone keeps the
	// image's user).
	User, Group *int64
	// SupplementalGroups are extra groups of the process (fsGroup among them).
	SupplementalGroups []int64
	// DropCapabilities are taken from the default set, Kubernetes names
	// ("NET_RAW", or "ALL").
	DropCapabilities []string
	// NonRoot refuses to start the container as UID 0 (runAsNonRoot).
	NonRoot bool
	// ReadOnlyRootfs mounts the image read-only.
	ReadOnlyRootfs bool
	// Sysctls are the pod's namespaced kernel parameters (securityContext.sysctls),
	// set in the container's namespaces (the pod's IPC, UTS and network ones).
	Sysctls map[string]string
	// TTY gives the process a terminal; Stdin keeps its input open for Attach,
	// until the first attach ends with StdinOnce.
	TTY, Stdin, StdinOnce bool
	// Attempt counts restarts; a new attempt replaces the previous container.
	Attempt int
	// Resources are the container's own cgroup settings, under its sandbox's.
	Resources Resources
	// Annotations are kept with the container and reported in its status, as
	// CRI keeps kubelet's (what the container was made from).
	Annotations map[string]string
}

// Resources are a container's cgroup settings, as CRI's LinuxContainerResources;
// zero values leave the setting at the runtime's default (no limit).
type Resources struct {
	// CPUShares is the container's CPU weight beside its siblings (cpu.shares).
	CPUShares uint64 `json:"cpuShares,omitempty"`
	// CPUQuota is the CPU time in µs it may use per CPUPeriod µs.
	CPUQuota  int64  `json:"cpuQuota,omitempty"`
	CPUPeriod uint64 `json:"cpuPeriod,omitempty"`
	// MemoryLimit is in bytes.
	MemoryLimit int64 `json:"memoryLimit,omitempty"`
}

// State is where a container is in its life.
type State string

// Container states.
const (
	StateCreated State = "Created"
	StateRunning State = "Running"
	StateExited  State = "Exited"
)

// Exit reasons, as kubelet reports them.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonUnknown is a container that ran and whose process is gone without an
	// exit status (its shim was killed), as kubelet's ContainerStatusUnknown.
	ReasonUnknown = "ContainerStatusUnknown"
)

// ContainerStatus is what the backend knows of a container.
type ContainerStatus struct {
	Name     string
	ID       string // backend://id, as in a pod's containerID
	Image    string
	ImageID  string
	Attempt  int
	State    State
	ExitCode int32
	Reason   string // for Exited: Completed, Error, OOMKilled or ContainerStatusUnknown
	Started  time.Time
	Finished time.Time
	// Resources are the cgroup settings in force; Annotations those it was
	// started or last updated with.
	Resources   Resources
	Annotations map[string]string
}

// Image is a pulled image.
type Image struct {
	Ref string
	// ID is the image's content digest reference (kubelet's imageID).
	ID string
	// Pulled is false when the image was already on the host.
	Pulled bool
}

// Auth is registry credentials for a pull, from imagePullSecrets.
type Auth struct {
	Username, Password string
}

// PullPolicy mirrors imagePullPolicy.
type PullPolicy string

// Pull policies.
const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// Streams are an exec's standard streams; nil ones are not attached. With TTY
// the process gets a terminal and Stderr is not used (the terminal carries both).
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	// Resize carries terminal size changes (TTY only).
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's width and height in characters.
type TerminalSize struct{ Width, Height uint16 }

// ExecOutput runs cmd in a container as exec probes do: no stdin, at most
// timeout; the output is stdout then stderr.
func ExecOutput(ctx context.Context, rt Runtime, sandboxID, name string, cmd []string, timeout time.Duration) (ExecResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer // one writer each
	code, err := rt.Exec(ctx, sandboxID, name, cmd, Streams{Stdout: &stdout, Stderr: &stderr})
	if err != nil && ctx.Err() != nil {
		return ExecResult{}, fmt.Errorf("exec in %s: timed out after %s", name, timeout)
	}
	return ExecResult{ExitCode: code, Output: append(stdout.Bytes(), stderr.Bytes()...)}, err
}

// ExecResult is the outcome of a command run in a container (exec probes).
type ExecResult struct {
	ExitCode int
	Output   []byte
}

// Runtime runs sandboxes and their containers on one host.
type Runtime interface {
	// Name is the backend's name (containerd, fake, …), shown on nodes and hosts.
	Name() string
	// Capabilities says what the backend does.
	Capabilities() Capabilities
	// Version is the backend's version, e.g. "containerd://1.6.20".
	Version(ctx context.Context) (string, error)

	// CreateSandbox makes the sandbox exist; an existing one is left as it is.
	CreateSandbox(ctx context.Context, sb Sandbox) error
	// StopSandbox stops whatever still runs in it and releases its compute
	// (processes, cgroup), keeping its containers' statuses and logs readable,
	// as CRI's StopPodSandbox does for a finished pod. A missing sandbox is not
	// an error.
	StopSandbox(ctx context.Context, id string) error
	// RemoveSandbox kills whatever still runs in it and frees everything it held.
	// A missing sandbox is not an error.
	RemoveSandbox(ctx context.Context, id string) error
	// Sandboxes lists the IDs of the sandboxes on the host, for adoption after a
	// restart and for the sweep of leftovers.
	Sandboxes(ctx context.Context) ([]string, error)
	// Stats reports the sandbox's resource usage so far.
	Stats(ctx context.Context, id string) (Stats, error)

	// PullImage makes ref available per policy, with auth if given; images are
	// shared by every sandbox on the host.
	PullImage(ctx context.Context, ref string, policy PullPolicy, auth []Auth) (Image, error)

	// StartContainer creates and starts c in the sandbox, replacing an exited
	// container of the same name; a running one of the same attempt is left alone.
	StartContainer(ctx context.Context, sandboxID string, c Container) (ContainerStatus, error)
	// StopContainer sends SIGTERM, then SIGKILL after grace; an exited or missing
	// container is not an error.
	StopContainer(ctx context.Context, sandboxID, name string, grace time.Duration) error
	// UpdateContainer sets a running container's resources in place (an
	// in-place resize) and replaces its annotations with the ones given.
	UpdateContainer(ctx context.Context, sandboxID, name string, res Resources, annotations map[string]string) error
	// Containers reports every container of the sandbox.
	Containers(ctx context.Context, sandboxID string) ([]ContainerStatus, error)
	// Exec runs cmd in a running container with s attached until it exits or ctx
	// ends, and returns its exit code.
	Exec(ctx context.Context, sandboxID, name string, cmd []string, s Streams) (int, error)
	// Attach connects s to a running container until it exits or ctx ends:
	// its output from now on, raw, to s.Stdout and s.Stderr (s.Stdout alone
	// with a terminal); s.Stdin to its input, if it was started with Stdin;
	// s.Resize to its terminal.
	Attach(ctx context.Context, sandboxID, name string, s Streams) error
	// ContainerLog is the file holding the output of the container's current
	// run, or of the run before with previous.
	ContainerLog(ctx context.Context, sandboxID, name string, previous bool) (string, error)
	// PortForward connects stream to TCP port on the sandbox's own loopback
	// (as kubelet's port-forward does: servers bound to 127.0.0.1 are reached)
	// and copies both ways until either side ends.
	PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error

	// Close releases the backend's connections; sandboxes keep running.
	Close() error
}

// RunLog is the log file of container name's current run in list (a
// sandbox's containers), or of the run before with previous; logPath gives
// a run's file, which must exist.
func RunLog(list []ContainerStatus, sandboxID, name string, previous bool, logPath func(attempt int) string) (string, error) {
	for _, c := range list {
		if c.Name != name {
			continue
		}
		attempt := c.Attempt
		if previous {
			attempt--
		}
		if attempt < 0 {
			return "", fmt.Errorf("no log of run %d of container %s: %w", attempt, name, ErrNotFound)
		}
		path := logPath(attempt)
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("no log of run %d of container %s: %w", attempt, name, ErrNotFound)
		}
		return path, nil
	}
	return "", fmt.Errorf("container %s of sandbox %s: %w", name, sandboxID, ErrNotFound)
}
