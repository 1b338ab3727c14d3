package microvm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/fargo-dev/fargo/internal/guest/api"
	"github.com/fargo-dev/fargo/internal/runtime"
	"github.com/fargo-dev/fargo/internal/runtime/containerd"
)

// Labels the guest keeps with each container for the host.
const (
	labelName        = "name"
	labelAttempt     = "attempt"
	labelImage       = "image"
	labelImageID     = "image-id"
	labelResources   = "resources"
	labelAnnotations = "annotations"
)

// containerID is <sandbox>_<name>_<attempt>: runc's and the snapshot's key.
func containerID(sandboxID, name string, attempt int) string {
	return sandboxID + "_" + name + "_" + strconv.Itoa(attempt)
}

// guestID is the guest's ID of a container status.
func guestID(st runtime.ContainerStatus) string { return st.ID[len("microvm://"):] }

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, sandboxID string, c runtime.Container) (runtime.ContainerStatus, error) {
	defer r.lock(sandboxID)()
	sb, err := r.loadSandbox(sandboxID)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	g, err := r.guest(ctx, sandboxID)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	existing, err := r.guestContainers(ctx, g)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	id := containerID(sandboxID, c.Name, c.Attempt)
	for _, old := range existing {
		if old.Name != c.Name {
			continue
		}
		if guestID(old) == id {
			return old, nil
		}
		if err := r.removeContainer(ctx, g, sb.ID, guestID(old)); err != nil {
			return runtime.ContainerStatus{}, err
		}
	}
	st, err := r.createContainer(ctx, g, sb, c, id)
	if err != nil {
		return runtime.ContainerStatus{}, fmt.Errorf("starting container %s: %w", c.Name, err)
	}
	r.saveStatuses(ctx, g, sandboxID)
	return st, nil
}

// createContainer mounts the container's root filesystem and volumes in the
// share and has the guest run it.
func (r *Runtime) createContainer(ctx context.Context, g *guestConn, sb runtime.Sandbox, c runtime.Container, id string) (runtime.ContainerStatus, error) {
	v := r.vm(sb.ID)
	root := v.share("rootfs", id)
	if err := mountRootfs(ctx, r.images, id, c.Image, root); err != nil {
		return runtime.ContainerStatus{}, err
	}
	spec, imageID, err := r.images.Spec(ctx, id, root, sb, c)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	mounts, err := bindMounts(v, id, append(c.Mounts, podFileMounts(v, c.Mounts)...))
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	inGuest(spec, id)
	spec.Mounts = append(spec.Mounts, mounts...)
	b, err := json.Marshal(spec)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	res, _ := json.Marshal(c.Resources)
	ann, _ := json.Marshal(c.Annotations)
	labels := map[string]string{labelName: c.Name, labelAttempt: strconv.Itoa(c.Attempt), labelImage: c.Image,
		labelImageID: imageID, labelResources: string(res), labelAnnotations: string(ann)}
	out, err := g.Create(ctx, &api.CreateRequest{Id: id, Spec: b, LogPath: guestPath(logRel(c.Name, c.Attempt)),
		Stdin: c.Stdin, Tty: c.TTY, Labels: labels})
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	return status(out), nil
}

// mountRootfs mounts the container's snapshot at root, unless it is already.
func mountRootfs(ctx context.Context, images *containerd.Runtime, key, ref, root string) error {
	if mounted(root) {
		return nil
	}
	ms, err := images.Rootfs(ctx, key, ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := mount.All(ms, root); err != nil {
		return fmt.Errorf("mounting the rootfs of %s: %w", key, err)
	}
	return nil
}

// inGuest makes the spec one for the guest: the pod's network, IPC and UTS
// namespaces are the guest's own (the VM is the pod), the root filesystem is
// in the share, the cgroup under the pod's.
func inGuest(s *specs.Spec, id string) {
	s.Root.Path = guestPath("rootfs/" + id)
	s.Hostname = "" // the guest's, set at setup
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		switch n.Type {
		case specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace:
		default:
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	s.Linux.CgroupsPath = "/fargo/" + id
	for i, m := range s.Mounts {
		if m.Destination == "/dev/shm" {
			s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rw", "nosuid", "nodev", "noexec"}}
		}
	}
}

// podFileMounts are the pod's /etc files, but for those the container mounts.
func podFileMounts(v vm, own []runtime.Mount) []runtime.Mount {
	var out []runtime.Mount
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		dst := "/etc/" + name
		taken := false
		for _, m := range own {
			taken = taken || m.ContainerPath == dst
		}
		if !taken {
			out = append(out, runtime.Mount{HostPath: v.share("files", name), ContainerPath: dst})
		}
	}
	return out
}

// bindMounts binds each host path into the share, where the guest's runc
// takes it from.
func bindMounts(v vm, id string, in []runtime.Mount) ([]specs.Mount, error) {
	var out []specs.Mount
	for i, m := range in {
		rel := filepath.Join("mounts", id, strconv.Itoa(i))
		target := v.share(rel)
		if !mounted(target) {
			fi, err := os.Stat(m.HostPath)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", m.ContainerPath, err)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return nil, err
			}
			if fi.IsDir() {
				err = os.MkdirAll(target, 0o755)
			} else {
				err = os.WriteFile(target, nil, 0o644)
			}
			if err != nil {
				return nil, err
			}
			if err := syscall.Mount(m.HostPath, target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
				return nil, fmt.Errorf("binding volume %s: %w", m.ContainerPath, err)
			}
		}
		opts := []string{"rbind", "rw"}
		if m.ReadOnly {
			opts[1] = "ro"
		}
		out = append(out, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: guestPath(rel), Options: opts})
	}
	return out, nil
}

// mounted says whether path is a mount point, bind mounts of the same
// filesystem included (which a device comparison misses).
func mounted(path string) bool {
	ok, err := mountinfo.Mounted(path)
	return err == nil && ok
}

// removeContainer has the guest forget the container, and frees its root
// filesystem and volumes.
func (r *Runtime) removeContainer(ctx context.Context, g *guestConn, sandboxID, id string) error {
	if _, err := g.Remove(ctx, &api.RemoveRequest{Id: id}); err != nil {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	v := r.vm(sandboxID)
	for _, dir := range []string{v.share("mounts", id), v.share("rootfs", id)} {
		if err := unmountUnder(dir); err != nil {
			return err
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return r.images.RemoveRootfs(ctx, id)
}

func logRel(name string, attempt int) string {
	return filepath.Join("logs", name, strconv.Itoa(attempt)+".log")
}

// status is a guest container's status as the runtime reports it.
func status(c *api.Container) runtime.ContainerStatus {
	attempt, _ := strconv.Atoi(c.Labels[labelAttempt])
	st := runtime.ContainerStatus{Name: c.Labels[labelName], ID: "microvm://" + c.Id, Image: c.Labels[labelImage],
		ImageID: c.Labels[labelImageID], Attempt: attempt, State: runtime.StateRunning}
	_ = json.Unmarshal([]byte(c.Labels[labelResources]), &st.Resources)
	_ = json.Unmarshal([]byte(c.Labels[labelAnnotations]), &st.Annotations)
	if c.StartedUnixNano != 0 {
		st.Started = time.Unix(0, c.StartedUnixNano)
	}
	if !c.Running {
		st.State, st.ExitCode = runtime.StateExited, c.ExitCode
		st.Finished = time.Unix(0, c.FinishedUnixNano)
		switch {
		case c.OomKilled:
			st.Reason = runtime.ReasonOOMKilled
		case c.ExitCode == 0:
			st.Reason = runtime.ReasonCompleted
		default:
			st.Reason = runtime.ReasonError
		}
	}
	return st
}

func (r *Runtime) guestContainers(ctx context.Context, g *guestConn) ([]runtime.ContainerStatus, error) {
	resp, err := g.List(ctx, &api.Empty{})
	if err != nil {
		return nil, fmt.Errorf("listing the guest's containers: %w", err)
	}
	out := make([]runtime.ContainerStatus, 0, len(resp.Containers))
	for _, c := range resp.Containers {
		out = append(out, status(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// saveStatuses keeps the containers' statuses on the host, for a stopped or
// crashed VM.
func (r *Runtime) saveStatuses(ctx context.Context, g *guestConn, sandboxID string) {
	if list, err := r.guestContainers(ctx, g); err == nil {
		_ = writeStatuses(r.vm(sandboxID), list)
	}
}

func writeStatuses(v vm, list []runtime.ContainerStatus) error {
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	tmp := v.path("containers.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, v.path("containers.json"))
}

func readStatuses(v vm) []runtime.ContainerStatus {
	var list []runtime.ContainerStatus
	b, err := os.ReadFile(v.path("containers.json"))
	if err == nil {
		_ = json.Unmarshal(b, &list)
	}
	return list
}

// Containers implements runtime.Runtime: from the guest while the VM runs;
// else as last known, a container that was running then being lost with
// the VM (ContainerStatusUnknown, as a container whose shim died).
func (r *Runtime) Containers(ctx context.Context, sandboxID string) ([]runtime.ContainerStatus, error) {
	if _, err := r.loadSandbox(sandboxID); err != nil {
		return nil, err
	}
	v := r.vm(sandboxID)
	if v.pid() != 0 && !stopped(v) {
		g, err := r.guest(ctx, sandboxID)
		if err != nil {
			return nil, err
		}
		return r.guestContainers(ctx, g)
	}
	list := readStatuses(v)
	for i := range list {
		if list[i].State == runtime.StateRunning {
			list[i].State, list[i].ExitCode, list[i].Reason = runtime.StateExited, 137, runtime.ReasonUnknown
			list[i].Finished = time.Now()
		}
	}
	return list, nil
}

func stopped(v vm) bool {
	_, err := os.Stat(v.path("stopped"))
	return err == nil
}

// running finds the running container called name.
func (r *Runtime) running(ctx context.Context, sandboxID, name string) (*guestConn, runtime.ContainerStatus, error) {
	g, err := r.guest(ctx, sandboxID)
	if err != nil {
		return nil, runtime.ContainerStatus{}, err
	}
	list, err := r.guestContainers(ctx, g)
	if err != nil {
		return nil, runtime.ContainerStatus{}, err
	}
	for _, c := range list {
		if c.Name == name && c.State == runtime.StateRunning {
			return g, c, nil
		}
	}
	return nil, runtime.ContainerStatus{}, fmt.Errorf("running container %s in sandbox %s: %w", name, sandboxID, runtime.ErrNotFound)
}

// StopContainer implements runtime.Runtime.
func (r *Runtime) StopContainer(ctx context.Context, sandboxID, name string, grace time.Duration) error {
	g, c, err := r.running(ctx, sandboxID, name)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := r.stopIn(ctx, g, guestID(c), grace); err != nil {
		return fmt.Errorf("stopping container %s: %w", name, err)
	}
	r.saveStatuses(ctx, g, sandboxID)
	return nil
}

// stopIn sends SIGTERM, then SIGKILL to every process after grace, and waits
// for the exit.
func (r *Runtime) stopIn(ctx context.Context, g *guestConn, id string, grace time.Duration) error {
	exited := func() bool {
		resp, err := g.List(ctx, &api.Empty{})
		if err != nil {
			return false
		}
		for _, c := range resp.Containers {
			if c.Id == id {
				return !c.Running
			}
		}
		return true
	}
	wait := func(d time.Duration) bool {
		for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
			if exited() {
				return true
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return false
			}
		}
	}
	if grace > 0 {
		if _, err := g.Kill(ctx, &api.KillRequest{Id: id, Signal: int32(syscall.SIGTERM)}); err != nil {
			return err
		}
		if wait(grace) {
			return nil
		}
	}
	if _, err := g.Kill(ctx, &api.KillRequest{Id: id, Signal: int32(syscall.SIGKILL), All: true}); err != nil {
		return err
	}
	if !wait(10 * time.Second) {
		return errors.New("still running 10s after SIGKILL")
	}
	return nil
}

// UpdateContainer implements runtime.Runtime.
func (r *Runtime) UpdateContainer(ctx context.Context, sandboxID, name string, res runtime.Resources, annotations map[string]string) error {
	g, c, err := r.running(ctx, sandboxID, name)
	if err != nil {
		return err
	}
	oci, err := json.Marshal(containerd.LinuxResources(res))
	if err != nil {
		return err
	}
	labels, err := g.List(ctx, &api.Empty{})
	if err != nil {
		return err
	}
	var keep map[string]string
	for _, gc := range labels.Containers {
		if gc.Id == guestID(c) {
			keep = gc.Labels
		}
	}
	rj, _ := json.Marshal(res)
	aj, _ := json.Marshal(annotations)
	keep[labelResources], keep[labelAnnotations] = string(rj), string(aj)
	if _, err := g.Update(ctx, &api.UpdateRequest{Id: guestID(c), Resources: oci, Labels: keep}); err != nil {
		return fmt.Errorf("updating container %s: %w", name, err)
	}
	return nil
}

// ContainerLog implements runtime.Runtime: the guest writes the logs in the
// share, on the host's disk.
func (r *Runtime) ContainerLog(ctx context.Context, sandboxID, name string, previous bool) (string, error) {
	list, err := r.Containers(ctx, sandboxID)
	if err != nil {
		return "", err
	}
	return runtime.RunLog(list, sandboxID, name, previous, func(attempt int) string { return r.vm(sandboxID).share(logRel(name, attempt)) })
}
