package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/api/types/task"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Container labels tie containerd containers to sandboxes.
const (
	labelSandbox   = "fargo.dev/sandbox"
	labelContainer = "fargo.dev/container"
	labelAttempt   = "fargo.dev/attempt"
	labelStarted   = "fargo.dev/started"
	labelLost      = "fargo.dev/lost" // when its task was found gone
	// A stopped sandbox's containers keep their exit here (their tasks are gone).
	labelExitCode = "fargo.dev/exit-code"
	labelReason   = "fargo.dev/reason"
	labelFinished = "fargo.dev/finished"
	labelImageID  = "fargo.dev/image-id"
)

func init() {
	runtime.Register(runtime.Backend{Name: "containerd", Help: "the default: fargo's own containerd with runc",
		New: func(ctx context.Context, cfg runtime.Config) (runtime.Runtime, error) { return Start(ctx, cfg) }, Base: true})
}

// Runtime is the containerd backend.
type Runtime struct {
	// InsecureRegistries (host:port) are pulled from over plain HTTP, besides
	// those on loopback.
	InsecureRegistries []string

	dir    string
	socket string
	host   string // names the host's cgroup under /fargo
	client *containerd.Client
	daemon *Daemon // the containerd Start started, stopped by Close
	// lxcfs is where LXCFS answers /proc files per cgroup ("" without it).
	lxcfs    string
	cpusetMu sync.Mutex // sandboxes pick their CPUs one at a time
}

// Start starts (or adopts) fargo's containerd under cfg.Dir and connects to it.
func Start(ctx context.Context, cfg runtime.Config) (*Runtime, error) {
	d, err := StartDaemon(ctx, cfg.Dir, cfg.LogFile)
	if err == nil {
		d.WarnTo(cfg.Warn)
	}
	if err != nil {
		return nil, err
	}
	r, err := New(d.Socket, cfg.Dir, cfg.Host)
	if err != nil {
		d.Stop()
		return nil, err
	}
	r.daemon, r.InsecureRegistries = d, cfg.InsecureRegistries
	if r.lxcfs, err = startLXCFS(cfg.Dir, filepath.Join(filepath.Dir(cfg.LogFile), "lxcfs.log")); err != nil && cfg.Warn != nil {
		cfg.Warn(err)
	}
	return r, nil
}

// New connects to the containerd serving socket; dir (DATA/containerd) holds
// sandbox records and container logs; host names the host's cgroup.
func New(socket, dir, host string) (*Runtime, error) {
	if host == "" {
		return nil, errors.New("containerd runtime: no host name for the cgroup path")
	}
	c, err := containerd.New(socket, containerd.WithDefaultNamespace(Namespace))
	if err != nil {
		return nil, fmt.Errorf("connecting to containerd at %s: %w", socket, err)
	}
	r := &Runtime{dir: dir, socket: socket, host: host, client: c}
	if err := r.attachLogs(context.Background()); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

// Socket is the containerd's address, for importing images fargo builds
// (internal/airgap) into namespace Namespace.
func (r *Runtime) Socket() string { return r.socket }

func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, Namespace)
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return "containerd" }

// Version implements runtime.Runtime.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	v, err := r.client.Version(r.ctx(ctx))
	if err != nil {
		return "", fmt.Errorf("asking containerd its version: %w", err)
	}
	return "containerd://" + v.Version, nil
}

// Capabilities implements runtime.Runtime.
func (r *Runtime) Capabilities() runtime.Capabilities {
	return runtime.Capabilities{HostNetwork: true, Processes: true}
}

// CreateSandbox implements runtime.Runtime.
func (r *Runtime) CreateSandbox(ctx context.Context, sb runtime.Sandbox) error {
	if sb.ID == "" {
		return errors.New("creating sandbox: empty ID")
	}
	if sb.NetnsPath == "" {
		return fmt.Errorf("creating sandbox %s: no network namespace (the agent prepares one)", sb.ID)
	}
	return r.createSandbox(sb)
}

// RemoveSandbox implements runtime.Runtime.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	list, err := r.containersOf(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range list {
		if err := r.deleteContainer(ctx, c, 0); err != nil {
			return err
		}
	}
	if err := r.removeSandboxSnapshots(ctx, id); err != nil {
		return err
	}
	return r.removeSandboxParts(id)
}

// Sandboxes implements runtime.Runtime.
func (r *Runtime) Sandboxes(context.Context) ([]string, error) { return r.sandboxIDs() }

// PullImage implements runtime.Runtime. Registries on loopback are reached over
// plain HTTP, as Docker and containerd allow for localhost, and so are
// InsecureRegistries; others over HTTPS.
func (r *Runtime) PullImage(ctx context.Context, ref string, policy runtime.PullPolicy, auth []runtime.Auth) (runtime.Image, error) {
	ctx = r.ctx(ctx)
	if policy != runtime.PullAlways {
		img, err := r.client.GetImage(ctx, ref)
		if err == nil {
			if ok, _ := img.IsUnpacked(ctx, ""); ok {
				return runtime.Image{Ref: ref, ID: img.Name() + "@" + img.Target().Digest.String()}, nil
			}
		}
		if policy == runtime.PullNever {
			return runtime.Image{}, fmt.Errorf("image %s is not present with pull policy Never: %w", ref, runtime.ErrNotFound)
		}
	}
	runtime.Blocking(ctx) // to the registry
	// As kubelet: each matching credential in turn (none when there are none),
	// until one pulls.
	creds := []*runtime.Auth{nil}
	if len(auth) > 0 {
		creds = make([]*runtime.Auth, len(auth))
		for i := range auth {
			creds[i] = &auth[i]
		}
	}
	var img containerd.Image
	var err error
	for _, cred := range creds {
		if img, err = r.pull(ctx, ref, cred); err == nil {
			break
		}
	}
	if err != nil {
		if errdefs.IsNotFound(err) {
			err = errors.Join(err, runtime.ErrNotFound)
		}
		return runtime.Image{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return runtime.Image{Ref: ref, ID: img.Name() + "@" + img.Target().Digest.String(), Pulled: true}, nil
}

// pull fetches and unpacks ref, with cred if given.
func (r *Runtime) pull(ctx context.Context, ref string, cred *runtime.Auth) (containerd.Image, error) {
	opts := []docker.RegistryOpt{docker.WithPlainHTTP(r.plainHTTP)}
	if cred != nil {
		opts = append(opts, docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(func(string) (string, string, error) {
			return cred.Username, cred.Password, nil
		}))))
	}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(opts...)})
	return r.client.Pull(ctx, ref, containerd.WithPullUnpack, containerd.WithResolver(resolver))
}

func (r *Runtime) plainHTTP(host string) (bool, error) {
	if local, err := docker.MatchLocalhost(host); local || err != nil {
		return local, err
	}
	return slices.Contains(r.InsecureRegistries, host), nil
}

// maxID is the longest identifier containerd takes (its identifiers package).
const maxID = 76

// containerID is <sandbox>_<container>_<attempt>. A container name containerd
// would refuse there (long enough to pass maxID, as names of 63 characters
// are, or with "--", which its identifiers may not have) is shortened and
// given a hash of the whole name, so that IDs stay valid and unique.
func containerID(sandboxID, name string, attempt int) string {
	id := sandboxID + "_" + name + "_" + strconv.Itoa(attempt)
	if identifiers.Validate(id) == nil {
		return id
	}
	sum := sha256.Sum256([]byte(name))
	tail := "-" + hex.EncodeToString(sum[:4]) + "_" + strconv.Itoa(attempt)
	for strings.Contains(name, "--") {
		name = strings.ReplaceAll(name, "--", "-")
	}
	name = name[:min(len(name), max(0, maxID-len(sandboxID)-1-len(tail)))]
	return sandboxID + "_" + strings.TrimRight(name, "-") + tail
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, sandboxID string, c runtime.Container) (runtime.ContainerStatus, error) {
	ctx = r.ctx(ctx)
	sb, err := r.loadSandbox(sandboxID)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	id := containerID(sandboxID, c.Name, c.Attempt)
	// Earlier attempts of the same container make way.
	existing, err := r.containersOf(ctx, sandboxID)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	for _, old := range existing {
		labels, _ := old.Labels(ctx)
		if labels[labelContainer] == c.Name && old.ID() != id {
			if err := r.deleteContainer(ctx, old, time.Second); err != nil {
				return runtime.ContainerStatus{}, err
			}
		}
	}
	ctr, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		if err := r.removeSnapshot(ctx, id); err != nil {
			return runtime.ContainerStatus{}, fmt.Errorf("creating container %s: %w", c.Name, err)
		}
		ctr, err = r.newContainer(ctx, sb, c, id)
	}
	if err != nil {
		return runtime.ContainerStatus{}, fmt.Errorf("creating container %s: %w", c.Name, err)
	}
	task, err := ctr.Task(ctx, nil)
	switch {
	case errdefs.IsNotFound(err):
		logs, err := r.newLogIO(sandboxID, c.Name, c.Attempt, stdio{stdin: c.Stdin, stdinOnce: c.StdinOnce, tty: c.TTY})
		if err != nil {
			return runtime.ContainerStatus{}, fmt.Errorf("creating container %s: %w", c.Name, err)
		}
		if task, err = ctr.NewTask(ctx, r.creator(sandboxID, logs)); err != nil {
			logs.log.close()
			return runtime.ContainerStatus{}, fmt.Errorf("creating task of container %s: %w", c.Name, err)
		}
		r.follow(id, logs)
		if err := r.startTask(ctx, ctr, task); err != nil {
			_, _ = task.Delete(ctx, containerd.WithProcessKill)
			return runtime.ContainerStatus{}, fmt.Errorf("starting container %s: %w", c.Name, err)
		}
	case err != nil:
		return runtime.ContainerStatus{}, fmt.Errorf("reading task of container %s: %w", c.Name, err)
	default:
		// A task created but never started: the start was cut off.
		if ts, err := task.Status(ctx); err == nil && ts.Status == containerd.Created {
			if err := r.startTask(ctx, ctr, task); err != nil {
				return runtime.ContainerStatus{}, fmt.Errorf("starting container %s: %w", c.Name, err)
			}
		}
	}
	// Read again: ctr's cached labels predate the start time startTask set, and
	// a status without it costs the pod a second status write.
	if fresh, err := r.client.LoadContainer(ctx, id); err == nil {
		ctr = fresh
	}
	return r.status(ctx, sandboxID, ctr)
}

// startTask starts task and records when.
func (r *Runtime) startTask(ctx context.Context, ctr containerd.Container, task containerd.Task) error {
	if err := task.Start(ctx); err != nil {
		return err
	}
	if _, err := ctr.SetLabels(ctx, map[string]string{labelStarted: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return fmt.Errorf("labelling container %s: %w", ctr.ID(), err)
	}
	return nil
}

// newContainer creates the container from its image, in the sandbox's netns and
// cgroup, with Kubernetes' defaults: default capabilities, masked /proc paths,
// no privilege escalation.
func (r *Runtime) newContainer(ctx context.Context, sb runtime.Sandbox, c runtime.Container, id string) (containerd.Container, error) {
	img, err := r.image(ctx, c.Image)
	if err != nil {
		return nil, err
	}
	opts := append(containerSpec(img, sb, c),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.NetnsPath}),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.IPCNamespace, Path: r.nsPath(sb.ID, "ipc")}),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.UTSNamespace, Path: r.nsPath(sb.ID, "uts")}),
		withMount(specs.Mount{Destination: "/dev/shm", Type: "bind", Source: r.shmPath(sb.ID), Options: []string{"rbind", "rw", "nosuid", "nodev", "noexec"}}),
		// The container's own cgroups, read-only, as CRI mounts them: runtimes
		// (the JVM, Go's GOMAXPROCS) size themselves by the limits there.
		withMount(specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}}),
		oci.WithCgroup(r.cgroupPath(sb.ID)+"/"+id),
		oci.WithMounts(mounts(append(c.Mounts, r.podFileMounts(sb.ID, c.Mounts)...))),
		oci.WithMounts(r.lxcfsMounts()),
	)
	return r.client.NewContainer(ctx, id,
		// runc's state under fargo's data dir, not /run/containerd/runc: a new data
		// dir never meets an old container of the same ID.
		containerd.WithRuntime("io.containerd.runc.v2", &options.Options{Root: filepath.Join(r.dir, "runc")}),
		containerd.WithImage(img),
		containerd.WithNewSnapshot(id, img),
		containerd.WithNewSpec(opts...),
		containerd.WithContainerLabels(withResourceLabels(map[string]string{labelSandbox: sb.ID, labelContainer: c.Name,
			labelAttempt: strconv.Itoa(c.Attempt), labelImageID: imageRef(img)}, c.Resources, c.Annotations)),
	)
}

// image is a pulled image, ErrNotFound if it is not.
func (r *Runtime) image(ctx context.Context, ref string) (containerd.Image, error) {
	img, err := r.client.GetImage(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			err = errors.Join(err, runtime.ErrNotFound)
		}
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

// containerSpec is the part of a container's spec that comes from its image
// and the pod, whatever runs it: the process, its user and privileges, its
// resources. Where the namespaces, cgroup and mounts come from is the
// runtime's.
func containerSpec(img containerd.Image, sb runtime.Sandbox, c runtime.Container) []oci.SpecOpts {
	opts := []oci.SpecOpts{oci.WithImageConfig(img)}
	switch {
	case len(c.Command) > 0:
		opts = append(opts, oci.WithProcessArgs(append(append([]string{}, c.Command...), c.Args...)...))
	case len(c.Args) > 0:
		opts = append(opts, oci.WithImageConfigArgs(img, c.Args))
	}
	opts = append(opts, oci.WithEnv(c.Env), oci.WithHostname(sb.Hostname), oci.WithNoNewPrivileges)
	if c.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(c.WorkingDir))
	}
	if c.User != nil {
		opts = append(opts, oci.WithUserID(uint32(*c.User))) // GID from the image's /etc/passwd
	}
	opts = append(opts, withGroups(c.Group, c.SupplementalGroups), withDroppedCapabilities(c.DropCapabilities))
	if c.NonRoot {
		opts = append(opts, withNonRoot)
	}
	if c.ReadOnlyRootfs {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if len(c.Sysctls) > 0 {
		opts = append(opts, withSysctls(c.Sysctls))
	}
	if c.TTY {
		opts = append(opts, oci.WithTTY)
	}
	return append(opts, withResources(c.Resources))
}

// withSysctls has runc set the kernel parameters in the container's
// namespaces, before /proc/sys is made read-only.
func withSysctls(sysctls map[string]string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		maps.Copy(s.Linux.Sysctl, sysctls)
		return nil
	}
}

// withGroups sets the process's group and adds supplemental groups.
func withGroups(group *int64, extra []int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if group != nil {
			// The image user's group leaves the list with it, as under kubelet.
			s.Process.User.GID = uint32(*group)
			s.Process.User.AdditionalGids = []uint32{uint32(*group)}
		}
		for _, g := range extra {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
		}
		return nil
	}
}

// withDroppedCapabilities removes Kubernetes-named capabilities ("ALL": every
// one) from the default set.
func withDroppedCapabilities(caps []string) oci.SpecOpts {
	if slices.Contains(caps, "ALL") {
		return oci.WithCapabilities(nil)
	}
	names := make([]string, len(caps))
	for i, c := range caps {
		names[i] = "CAP_" + strings.TrimPrefix(strings.ToUpper(c), "CAP_")
	}
	return oci.WithDroppedCapabilities(names)
}

// withNonRoot fails for a process that would run as root, as kubelet does for
// runAsNonRoot.
func withNonRoot(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process.User.UID == 0 {
		return errors.New("container has runAsNonRoot and image will run as root")
	}
	return nil
}

// withMount puts m in place of the default spec's mount at the same destination.
func withMount(m specs.Mount) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == m.Destination {
				s.Mounts[i] = m
				return nil
			}
		}
		s.Mounts = append(s.Mounts, m)
		return nil
	}
}

func mounts(in []runtime.Mount) []specs.Mount {
	out := make([]specs.Mount, 0, len(in))
	for _, m := range in {
		opts := []string{"rbind", "rw"}
		if m.ReadOnly {
			opts[1] = "ro"
		}
		out = append(out, specs.Mount{Destination: m.ContainerPath, Source: m.HostPath, Type: "bind", Options: opts})
	}
	return out
}

// StopContainer implements runtime.Runtime.
func (r *Runtime) StopContainer(ctx context.Context, sandboxID, name string, grace time.Duration) error {
	ctx = r.ctx(ctx)
	list, err := r.containersOf(ctx, sandboxID)
	if err != nil {
		return err
	}
	for _, c := range list {
		if labels, _ := c.Labels(ctx); labels[labelContainer] == name {
			if err := stopTask(ctx, c, grace); err != nil {
				return fmt.Errorf("stopping container %s: %w", name, err)
			}
		}
	}
	return nil
}

// stopTask sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func stopTask(ctx context.Context, c containerd.Container, grace time.Duration) error {
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := task.Status(ctx)
	if err != nil || st.Status == containerd.Stopped {
		return err
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
	}
	if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("still running 10s after SIGKILL")
	}
}

// deleteContainer stops, then deletes a container, its task and snapshot.
func (r *Runtime) deleteContainer(ctx context.Context, c containerd.Container, grace time.Duration) error {
	labels, _ := c.Labels(ctx)
	if err := stopTask(ctx, c, grace); err != nil {
		return fmt.Errorf("stopping container %s: %w", c.ID(), err)
	}
	if task, err := c.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("deleting task of %s: %w", c.ID(), err)
		}
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("deleting container %s: %w", c.ID(), err)
	}
	if sandbox := labels[labelSandbox]; sandbox != "" {
		r.removeFifos(sandbox, c.ID())
	}
	return nil
}

func (r *Runtime) containersOf(ctx context.Context, sandboxID string) ([]containerd.Container, error) {
	list, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q==%s", labelSandbox, sandboxID))
	if err != nil {
		return nil, fmt.Errorf("listing containers of sandbox %s: %w", sandboxID, err)
	}
	return list, nil
}

// Containers implements runtime.Runtime.
func (r *Runtime) Containers(ctx context.Context, sandboxID string) ([]runtime.ContainerStatus, error) {
	ctx = r.ctx(ctx)
	if _, err := r.loadSandbox(sandboxID); err != nil {
		return nil, err
	}
	list, err := r.containersOf(ctx, sandboxID)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.ContainerStatus, 0, len(list))
	for _, c := range list {
		st, err := r.status(ctx, sandboxID, c)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// status reads a container's labels and task state.
func (r *Runtime) status(ctx context.Context, sandboxID string, c containerd.Container) (runtime.ContainerStatus, error) {
	info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return runtime.ContainerStatus{}, fmt.Errorf("reading container %s: %w", c.ID(), err)
	}
	st := runtime.ContainerStatus{Name: info.Labels[labelContainer], ID: "containerd://" + c.ID(), Image: info.Image,
		ImageID: info.Labels[labelImageID], State: runtime.StateCreated}
	if st.ImageID == "" { // made before the label
		st.ImageID = imageID(ctx, r.client, info)
	}
	st.Attempt, _ = strconv.Atoi(info.Labels[labelAttempt])
	st.Resources, st.Annotations = resourcesFromLabels(info.Labels)
	st.Started, _ = time.Parse(time.RFC3339Nano, info.Labels[labelStarted])
	// One call to the task service: the relist asks this of every container
	// each second, and c.Task then task.Status would ask the shim twice.
	resp, err := r.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: c.ID()})
	err = errgrpc.ToNative(err)
	if errdefs.IsNotFound(err) {
		if code, err := strconv.Atoi(info.Labels[labelExitCode]); err == nil { // its sandbox was stopped
			st.State, st.ExitCode, st.Reason = runtime.StateExited, int32(code), info.Labels[labelReason]
			st.Finished, _ = time.Parse(time.RFC3339Nano, info.Labels[labelFinished])
			return st, nil
		}
		if !st.Started.IsZero() {
			// It ran, and its task is gone without an exit: containerd cleaned up
			// after a dead shim, which ends the container. 137, as kubelet reports;
			// the time it was found gone stands for its finish (for the back-off).
			lost, err := time.Parse(time.RFC3339Nano, info.Labels[labelLost])
			if err != nil {
				lost = time.Now().UTC()
				if _, err := c.SetLabels(ctx, map[string]string{labelLost: lost.Format(time.RFC3339Nano)}); err != nil {
					return st, fmt.Errorf("labelling container %s: %w", c.ID(), err)
				}
			}
			st.State, st.ExitCode, st.Reason, st.Finished = runtime.StateExited, 137, runtime.ReasonUnknown, lost
		}
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading task of %s: %w", c.ID(), err)
	}
	switch p := resp.Process; p.Status {
	case task.Status_RUNNING, task.Status_PAUSED, task.Status_PAUSING:
		st.State = runtime.StateRunning
	case task.Status_STOPPED:
		r.awaitLog(ctx, c.ID())
		st.State, st.ExitCode, st.Finished = runtime.StateExited, int32(p.ExitStatus), protobuf.FromTimestamp(p.ExitedAt)
		switch {
		case p.ExitStatus == 137 && r.oomKilled(sandboxID, c.ID()):
			st.Reason = runtime.ReasonOOMKilled
		case p.ExitStatus == 0:
			st.Reason = runtime.ReasonCompleted
		default:
			st.Reason = runtime.ReasonError
		}
	}
	return st, nil
}

func imageID(ctx context.Context, c *containerd.Client, info containers.Container) string {
	img, err := c.GetImage(ctx, info.Image)
	if err != nil {
		return ""
	}
	return imageRef(img)
}

// imageRef is an image's name and digest, a container status's imageID.
func imageRef(img containerd.Image) string {
	return img.Name() + "@" + img.Target().Digest.String()
}

// Exec implements runtime.Runtime.
func (r *Runtime) Exec(ctx context.Context, sandboxID, name string, cmd []string, s runtime.Streams) (int, error) {
	ctx = r.ctx(ctx)
	task, spec, err := r.runningTask(ctx, sandboxID, name)
	if err != nil {
		return -1, err
	}
	pspec := *spec.Process
	pspec.Args, pspec.Terminal = cmd, s.TTY
	var stdin io.Reader
	var stdinW *io.PipeWriter
	if s.Stdin != nil { // piped, so the process sees EOF when the client's stdin ends
		stdin, stdinW = io.Pipe()
	}
	opts := []cio.Opt{cio.WithStreams(stdin, orDiscard(s.Stdout), orDiscard(s.Stderr))}
	if s.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	proc, err := task.Exec(ctx, fmt.Sprintf("exec-%d", time.Now().UnixNano()), &pspec, cio.NewCreator(opts...))
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, err)
	}
	defer proc.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill)
	exited, err := proc.Wait(ctx)
	if err != nil {
		return -1, err
	}
	if err := proc.Start(ctx); err != nil {
		return -1, fmt.Errorf("exec in %s: %w", name, err)
	}
	if stdinW != nil {
		go func() {
			_, _ = io.Copy(stdinW, s.Stdin)
			_ = stdinW.Close()
			_ = proc.CloseIO(ctx, containerd.WithStdinCloser)
		}()
	}
	if s.Resize != nil {
		go func() {
			for sz := range s.Resize {
				_ = proc.Resize(ctx, uint32(sz.Width), uint32(sz.Height))
			}
		}()
	}
	select {
	case st := <-exited:
		drainIO(proc.IO())
		return int(st.ExitCode()), nil
	case <-ctx.Done():
		return -1, fmt.Errorf("exec in %s: %w", name, ctx.Err())
	}
}

// drainIO waits briefly for an exited process's output to be copied: a child it
// left in the background may hold the pipes open for good, as containerd's CRI
// allows for.
func drainIO(pio cio.IO) {
	done := make(chan struct{})
	go func() {
		pio.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		pio.Cancel()
	}
	_ = pio.Close()
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// runningTask is the task of the container called name, with its spec.
func (r *Runtime) runningTask(ctx context.Context, sandboxID, name string) (containerd.Task, *oci.Spec, error) {
	c, task, err := r.runningContainer(ctx, sandboxID, name)
	if err != nil {
		return nil, nil, err
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading spec of %s: %w", c.ID(), err)
	}
	return task, spec, nil
}

// runningContainer is the container called name that has a task, and the task.
func (r *Runtime) runningContainer(ctx context.Context, sandboxID, name string) (containerd.Container, containerd.Task, error) {
	list, err := r.containersOf(ctx, sandboxID)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range list {
		if labels, _ := c.Labels(ctx); labels[labelContainer] != name {
			continue
		}
		if task, err := c.Task(ctx, nil); err == nil {
			return c, task, nil
		}
	}
	return nil, nil, fmt.Errorf("container %s of sandbox %s is not running: %w", name, sandboxID, runtime.ErrNotFound)
}

// ContainerLog implements runtime.Runtime.
func (r *Runtime) ContainerLog(ctx context.Context, sandboxID, name string, previous bool) (string, error) {
	list, err := r.Containers(ctx, sandboxID)
	if err != nil {
		return "", err
	}
	return runtime.RunLog(list, sandboxID, name, previous, func(attempt int) string { return r.logPath(sandboxID, name, attempt) })
}

func (r *Runtime) logPath(sandboxID, name string, attempt int) string {
	return filepath.Join(r.dir, "logs", sandboxID, name+"_"+strconv.Itoa(attempt)+".log")
}

// Close implements runtime.Runtime: it also stops the containerd Start started;
// the shims, and so the containers, keep running.
func (r *Runtime) Close() error {
	r.detachLogs()
	err := r.client.Close()
	if r.daemon != nil {
		err = errors.Join(err, r.daemon.Stop())
	}
	return err
}
