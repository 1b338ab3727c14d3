// Package tiers is a runtime over several backends of different isolation
// tiers on one host (containerd and microvm): each sandbox goes to the backend
// of the tier it asks for (runtime.Sandbox.Isolation, from its profile), the
// first backend's when it asks for none. It is the seam's own kind of backend,
// so the agent needs no change to run both; which backend holds a sandbox is
// learnt from the backends themselves (their Sandboxes), so nothing is lost on
// restart.
package tiers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Runtime routes each sandbox to one of its backends.
type Runtime struct {
	backends []runtime.Runtime // the default first

	mu    sync.Mutex
	owner map[string]runtime.Runtime // sandbox ID → backend
}

// New is a runtime over backends, each of a different tier; the first is the
// default.
func New(backends ...runtime.Runtime) (*Runtime, error) {
	if len(backends) == 0 {
		return nil, errors.New("tiers: no backend")
	}
	seen := map[string]string{}
	for _, b := range backends {
		t := runtime.IsolationOf(b)
		if other, dup := seen[t]; dup {
			return nil, fmt.Errorf("runtimes %s and %s both isolate by %s: give one per tier", other, b.Name(), t)
		}
		seen[t] = b.Name()
	}
	return &Runtime{backends: backends, owner: map[string]runtime.Runtime{}}, nil
}

// Name implements runtime.Runtime: the backends' names, the default first.
func (r *Runtime) Name() string {
	names := make([]string, len(r.backends))
	for i, b := range r.backends {
		names[i] = b.Name()
	}
	return strings.Join(names, ",")
}

// Isolations are the tiers, the default first (runtime.IsolationsOf).
func (r *Runtime) Isolations() []string {
	out := make([]string, len(r.backends))
	for i, b := range r.backends {
		out[i] = runtime.IsolationOf(b)
	}
	return out
}

// Capabilities implements runtime.Runtime: what every backend does, with the
// default's tier.
func (r *Runtime) Capabilities() runtime.Capabilities {
	c := r.backends[0].Capabilities()
	for _, b := range r.backends[1:] {
		o := b.Capabilities()
		c.HostNetwork, c.Processes = c.HostNetwork && o.HostNetwork, c.Processes && o.Processes
	}
	return c
}

// Version implements runtime.Runtime: the default backend's.
func (r *Runtime) Version(ctx context.Context) (string, error) { return r.backends[0].Version(ctx) }

// VersionFor is the version of the backend of isolation, for a node's
// container runtime version (runtime.VersionFor).
func (r *Runtime) VersionFor(ctx context.Context, isolation string) (string, error) {
	b, err := r.tier(isolation)
	if err != nil {
		return "", err
	}
	return b.Version(ctx)
}

// Socket is the default backend's containerd address, "" if it has none.
func (r *Runtime) Socket() string {
	if s, ok := r.backends[0].(interface{ Socket() string }); ok {
		return s.Socket()
	}
	return ""
}

// tier is the backend of isolation ("" is the default).
func (r *Runtime) tier(isolation string) (runtime.Runtime, error) {
	if isolation == "" {
		return r.backends[0], nil
	}
	for _, b := range r.backends {
		if runtime.IsolationOf(b) == isolation {
			return b, nil
		}
	}
	return nil, fmt.Errorf("this host runs no %s sandboxes (its runtimes: %s)", isolation, r.Name())
}

// of is the backend holding sandbox id: the one that created it, else the one
// listing it (after a restart), else the default (which reports it missing).
func (r *Runtime) of(ctx context.Context, id string) runtime.Runtime {
	r.mu.Lock()
	b, ok := r.owner[id]
	r.mu.Unlock()
	if ok {
		return b
	}
	for _, b := range r.backends {
		ids, err := b.Sandboxes(ctx)
		if err == nil && slices.Contains(ids, id) {
			r.remember(id, b)
			return b
		}
	}
	return r.backends[0]
}

func (r *Runtime) remember(id string, b runtime.Runtime) {
	r.mu.Lock()
	r.owner[id] = b
	r.mu.Unlock()
}

// CreateSandbox implements runtime.Runtime in the backend of sb's tier; a
// sandbox that exists keeps its backend.
func (r *Runtime) CreateSandbox(ctx context.Context, sb runtime.Sandbox) error {
	b, err := r.tier(sb.Isolation)
	if err != nil {
		return fmt.Errorf("creating sandbox %s: %w", sb.ID, err)
	}
	if have := r.of(ctx, sb.ID); have != b {
		if ids, _ := have.Sandboxes(ctx); slices.Contains(ids, sb.ID) {
			return fmt.Errorf("creating sandbox %s in %s: it exists in %s", sb.ID, b.Name(), have.Name())
		}
	}
	r.remember(sb.ID, b)
	sb.Isolation = "" // the backend's own
	return b.CreateSandbox(ctx, sb)
}

// StopSandbox implements runtime.Runtime.
func (r *Runtime) StopSandbox(ctx context.Context, id string) error {
	return r.of(ctx, id).StopSandbox(ctx, id)
}

// RemoveSandbox implements runtime.Runtime.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	err := r.of(ctx, id).RemoveSandbox(ctx, id)
	if err == nil {
		r.mu.Lock()
		delete(r.owner, id)
		r.mu.Unlock()
	}
	return err
}

// Sandboxes implements runtime.Runtime: every backend's.
func (r *Runtime) Sandboxes(ctx context.Context) ([]string, error) {
	var all []string
	for _, b := range r.backends {
		ids, err := b.Sandboxes(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		for _, id := range ids {
			r.remember(id, b)
		}
		all = append(all, ids...)
	}
	return all, nil
}

// Stats implements runtime.Runtime.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.Stats, error) {
	return r.of(ctx, id).Stats(ctx, id)
}

// PullImage implements runtime.Runtime in the default backend: the backends
// of one host share its image store (fargo's containerd).
func (r *Runtime) PullImage(ctx context.Context, ref string, policy runtime.PullPolicy, auth []runtime.Auth) (runtime.Image, error) {
	return r.backends[0].PullImage(ctx, ref, policy, auth)
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, id string, c runtime.Container) (runtime.ContainerStatus, error) {
	return r.of(ctx, id).StartContainer(ctx, id, c)
}

// StopContainer implements runtime.Runtime.
func (r *Runtime) StopContainer(ctx context.Context, id, name string, grace time.Duration) error {
	return r.of(ctx, id).StopContainer(ctx, id, name, grace)
}

// UpdateContainer implements runtime.Runtime.
func (r *Runtime) UpdateContainer(ctx context.Context, id, name string, res runtime.Resources, annotations map[string]string) error {
	return r.of(ctx, id).UpdateContainer(ctx, id, name, res, annotations)
}

// Containers implements runtime.Runtime.
func (r *Runtime) Containers(ctx context.Context, id string) ([]runtime.ContainerStatus, error) {
	return r.of(ctx, id).Containers(ctx, id)
}

// Exec implements runtime.Runtime.
func (r *Runtime) Exec(ctx context.Context, id, name string, cmd []string, s runtime.Streams) (int, error) {
	return r.of(ctx, id).Exec(ctx, id, name, cmd, s)
}

// Attach implements runtime.Runtime.
func (r *Runtime) Attach(ctx context.Context, id, name string, s runtime.Streams) error {
	return r.of(ctx, id).Attach(ctx, id, name, s)
}

// ContainerLog implements runtime.Runtime.
func (r *Runtime) ContainerLog(ctx context.Context, id, name string, previous bool) (string, error) {
	return r.of(ctx, id).ContainerLog(ctx, id, name, previous)
}

// PortForward implements runtime.Runtime.
func (r *Runtime) PortForward(ctx context.Context, id string, port int32, stream io.ReadWriteCloser) error {
	return r.of(ctx, id).PortForward(ctx, id, port, stream)
}

// Close implements runtime.Runtime: the backends in reverse (one may use
// another's daemon).
func (r *Runtime) Close() error {
	var errs []error
	for i := len(r.backends) - 1; i >= 0; i-- {
		errs = append(errs, r.backends[i].Close())
	}
	return errors.Join(errs...)
}
