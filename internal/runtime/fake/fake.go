// Package fake is a runtime.Runtime that runs nothing: sandboxes and containers are
// records in memory. It lets everything above the runtime (agent, nodes, pod status,
// scheduler) be tested at scale without processes.
//
// Containers "run" until stopped, unless their command is the fake's own
// `exit N` (exit at once with code N) or `oom` (killed for memory at once), which
// the conformance suite uses where a real backend runs a real command.
package fake

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

func init() {
	runtime.Register(runtime.Backend{Name: "fake", Help: "no processes: pods are reported Running, nothing runs; for tests and scale runs",
		New: func(context.Context, runtime.Config) (runtime.Runtime, error) { return New(), nil }})
}

// Runtime is the fake backend. The zero value is not usable; call New.
type Runtime struct {
	mu        sync.Mutex
	sandboxes map[string]*sandbox
	images    map[string]bool
	pulls     int
	calls     []string
	fail      map[string]error
}

type sandbox struct {
	spec       runtime.Sandbox
	containers map[string]*runtime.ContainerStatus
}

// New returns an empty fake runtime.
func New() *Runtime {
	return &Runtime{sandboxes: map[string]*sandbox{}, images: map[string]bool{}}
}

// Name implements runtime.Runtime.
func (r *Runtime) Name() string { return "fake" }

// Capabilities implements runtime.Runtime: no network, no processes.
func (r *Runtime) Capabilities() runtime.Capabilities { return runtime.Capabilities{} }

// Fail makes every later call of method (e.g. "CreateSandbox") fail with err;
// nil makes it succeed again.
func (r *Runtime) Fail(method string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail == nil {
		r.fail = map[string]error{}
	}
	r.fail[method] = err
}

// Calls lists the calls made so far that change state, as "Method id[/name]".
func (r *Runtime) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// record notes a call and returns its injected error; r.mu is held.
func (r *Runtime) record(method, target string) error {
	r.calls = append(r.calls, method+" "+target)
	if err := r.fail[method]; err != nil {
		return fmt.Errorf("%s %s: %w", method, target, err)
	}
	return nil
}

// Version implements runtime.Runtime.
func (r *Runtime) Version(context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail["Version"]; err != nil {
		return "", err
	}
	return "fake://1", nil
}

// Pulls counts the image pulls that were not served from the host's store.
func (r *Runtime) Pulls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pulls
}

// CreateSandbox implements runtime.Runtime.
func (r *Runtime) CreateSandbox(_ context.Context, sb runtime.Sandbox) error {
	if sb.ID == "" {
		return fmt.Errorf("creating sandbox for pod %s/%s: empty sandbox ID", sb.Namespace, sb.Pod)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.record("CreateSandbox", sb.ID); err != nil {
		return err
	}
	if _, ok := r.sandboxes[sb.ID]; !ok {
		r.sandboxes[sb.ID] = &sandbox{spec: sb, containers: map[string]*runtime.ContainerStatus{}}
	}
	return nil
}

// StopSandbox implements runtime.Runtime: running containers exit (137, as
// killed); the sandbox and its containers' statuses stay.
func (r *Runtime) StopSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.record("StopSandbox", id); err != nil {
		return err
	}
	if sb, err := r.sandbox(id); err == nil {
		for _, st := range sb.containers {
			if st.State == runtime.StateRunning {
				exit(st, 137, time.Now())
			}
		}
	}
	return nil
}

// RemoveSandbox implements runtime.Runtime.
func (r *Runtime) RemoveSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.record("RemoveSandbox", id); err != nil {
		return err
	}
	delete(r.sandboxes, id)
	return nil
}

// Stats implements runtime.Runtime: every container counts as one busy core,
// capped at the sandbox's size, for as long as it has run; no memory.
func (r *Runtime) Stats(_ context.Context, id string) (runtime.Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, err := r.sandbox(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	var st runtime.Stats
	for _, c := range sb.containers {
		end := time.Now()
		if c.State == runtime.StateExited {
			end = c.Finished
		}
		cpu := end.Sub(c.Started) * time.Duration(min(sb.spec.MilliCPU, 1000)) / 1000
		st.CPU += cpu
		if c.State == runtime.StateRunning {
			st.Containers = append(st.Containers, runtime.ContainerStats{Name: c.Name, CPU: cpu})
		}
	}
	sort.Slice(st.Containers, func(i, j int) bool { return st.Containers[i].Name < st.Containers[j].Name })
	return st, nil
}

// Sandboxes implements runtime.Runtime.
func (r *Runtime) Sandboxes(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail["Sandboxes"]; err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(r.sandboxes))
	for id := range r.sandboxes {
		ids = append(ids, id)
	}
	return ids, nil
}

// PullImage implements runtime.Runtime: any reference "exists" unless it contains
// "missing".
func (r *Runtime) PullImage(_ context.Context, ref string, policy runtime.PullPolicy, _ []runtime.Auth) (runtime.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "PullImage "+ref)
	if err := r.fail["PullImage"]; err != nil {
		return runtime.Image{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	img := runtime.Image{Ref: ref, ID: "fake@" + ref}
	if r.images[ref] && policy != runtime.PullAlways {
		return img, nil
	}
	if policy == runtime.PullNever {
		return runtime.Image{}, fmt.Errorf("image %s is not present with pull policy Never: %w", ref, runtime.ErrNotFound)
	}
	if strings.Contains(ref, "missing") {
		return runtime.Image{}, fmt.Errorf("pulling %s: %w", ref, runtime.ErrNotFound)
	}
	r.images[ref], img.Pulled = true, true
	r.pulls++
	return img, nil
}

func (r *Runtime) sandbox(id string) (*sandbox, error) {
	sb, ok := r.sandboxes[id]
	if !ok {
		return nil, fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	return sb, nil
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(_ context.Context, sandboxID string, c runtime.Container) (runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.record("StartContainer", sandboxID+"/"+c.Name); err != nil {
		return runtime.ContainerStatus{}, err
	}
	sb, err := r.sandbox(sandboxID)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	if !r.images[c.Image] {
		return runtime.ContainerStatus{}, fmt.Errorf("starting container %s: image %s: %w", c.Name, c.Image, runtime.ErrNotFound)
	}
	if old, ok := sb.containers[c.Name]; ok && old.Attempt == c.Attempt {
		return *old, nil
	}
	now := time.Now()
	st := &runtime.ContainerStatus{Name: c.Name, ID: fmt.Sprintf("fake://%s-%s-%d", sandboxID, c.Name, c.Attempt),
		Image: c.Image, ImageID: "fake@" + c.Image, Attempt: c.Attempt, State: runtime.StateRunning, Started: now,
		Resources: c.Resources, Annotations: maps.Clone(c.Annotations)}
	switch cmd := append(append([]string{}, c.Command...), c.Args...); {
	case len(cmd) == 2 && cmd[0] == "exit":
		code, err := strconv.Atoi(cmd[1])
		if err != nil {
			return runtime.ContainerStatus{}, fmt.Errorf("starting container %s: fake command %q: %w", c.Name, cmd, err)
		}
		exit(st, int32(code), now)
	case len(cmd) == 1 && cmd[0] == "oom":
		exit(st, 137, now)
		st.Reason = runtime.ReasonOOMKilled
	}
	sb.containers[c.Name] = st
	return *st, nil
}

func exit(st *runtime.ContainerStatus, code int32, at time.Time) {
	st.State, st.ExitCode, st.Finished, st.Reason = runtime.StateExited, code, at, runtime.ReasonCompleted
	if code != 0 {
		st.Reason = runtime.ReasonError
	}
}

// UpdateContainer implements runtime.Runtime.
func (r *Runtime) UpdateContainer(_ context.Context, sandboxID, name string, res runtime.Resources, annotations map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.record("UpdateContainer", sandboxID+"/"+name); err != nil {
		return err
	}
	sb, err := r.sandbox(sandboxID)
	if err != nil {
		return err
	}
	st, ok := sb.containers[name]
	if !ok || st.State != runtime.StateRunning {
		return fmt.Errorf("updating container %s of sandbox %s: not running: %w", name, sandboxID, runtime.ErrNotFound)
	}
	st.Resources, st.Annotations = res, maps.Clone(annotations)
	return nil
}

// StopContainer implements runtime.Runtime: a running container exits as if it
// died of SIGTERM.
func (r *Runtime) StopContainer(_ context.Context, sandboxID, name string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.record("StopContainer", sandboxID+"/"+name); err != nil {
		return err
	}
	sb, err := r.sandbox(sandboxID)
	if err != nil {
		return nil
	}
	if st, ok := sb.containers[name]; ok && st.State == runtime.StateRunning {
		exit(st, 143, time.Now())
	}
	return nil
}

// Containers implements runtime.Runtime.
func (r *Runtime) Containers(_ context.Context, sandboxID string) ([]runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, err := r.sandbox(sandboxID)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.ContainerStatus, 0, len(sb.containers))
	for _, st := range sb.containers {
		c := *st
		c.Annotations = maps.Clone(st.Annotations)
		out = append(out, c)
	}
	return out, nil
}

// Exec implements runtime.Runtime: `exit N` exits with N, `cat` copies stdin to
// stdout, anything else prints the command.
func (r *Runtime) Exec(_ context.Context, sandboxID, name string, cmd []string, s runtime.Streams) (int, error) {
	r.mu.Lock()
	sb, err := r.sandbox(sandboxID)
	if err == nil {
		if st, ok := sb.containers[name]; !ok || st.State != runtime.StateRunning {
			err = fmt.Errorf("exec in container %s of sandbox %s: not running: %w", name, sandboxID, runtime.ErrNotFound)
		}
	}
	r.mu.Unlock()
	if err != nil {
		return -1, err
	}
	out := s.Stdout
	if out == nil {
		out = io.Discard
	}
	switch {
	case len(cmd) == 2 && cmd[0] == "exit":
		code, _ := strconv.Atoi(cmd[1])
		return code, nil
	case len(cmd) == 1 && cmd[0] == "cat" && s.Stdin != nil:
		_, err := io.Copy(out, s.Stdin)
		return 0, err
	}
	_, err = io.WriteString(out, strings.Join(cmd, " "))
	return 0, err
}

// Attach implements runtime.Runtime: the fake's containers have no process to
// attach to.
func (r *Runtime) Attach(_ context.Context, sandboxID, name string, _ runtime.Streams) error {
	return fmt.Errorf("attach to container %s of sandbox %s: the fake runtime runs no processes: %w", name, sandboxID, runtime.ErrNotFound)
}

// ContainerLog implements runtime.Runtime: the fake keeps no output.
func (r *Runtime) ContainerLog(_ context.Context, sandboxID, name string, _ bool) (string, error) {
	return "", fmt.Errorf("logs of container %s of sandbox %s: the fake runtime keeps none: %w", name, sandboxID, runtime.ErrNotFound)
}

// Close implements runtime.Runtime.
func (r *Runtime) Close() error { return nil }

// PortForward implements runtime.Runtime: no process listens in a fake sandbox.
func (r *Runtime) PortForward(_ context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	_ = stream.Close()
	r.mu.Lock()
	_, err := r.sandbox(sandboxID)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return fmt.Errorf("port-forward to port %d of sandbox %s: the fake runtime runs no processes", port, sandboxID)
}
