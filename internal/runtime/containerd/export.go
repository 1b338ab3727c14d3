package containerd

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/image-spec/identity"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// What a backend that runs containers elsewhere (the microvm one, in its
// guests) takes from this one: pulled images, their root filesystems as
// snapshots, and the spec a container would have here.

// Rootfs prepares key, a writable snapshot of image ref, or finds it made
// already, and returns how to mount it.
func (r *Runtime) Rootfs(ctx context.Context, key, ref string) ([]mount.Mount, error) {
	ctx = r.ctx(ctx)
	if m, err := r.snapshots().Mounts(ctx, key); err == nil {
		return m, nil
	} else if !errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("reading snapshot %s: %w", key, err)
	}
	img, err := r.image(ctx, ref)
	if err != nil {
		return nil, err
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the layers of %s: %w", ref, err)
	}
	// A GC root: no container of containerd's owns it, and its garbage
	// collector would otherwise remove it under the mount.
	m, err := r.snapshots().Prepare(ctx, key, identity.ChainID(diffIDs).String(),
		snapshots.WithLabels(map[string]string{"containerd.io/gc.root": time.Now().UTC().Format(time.RFC3339)}))
	if err != nil {
		return nil, fmt.Errorf("preparing the rootfs of %s: %w", key, err)
	}
	return m, nil
}

// RemoveRootfs removes snapshot key; a missing one is not an error.
func (r *Runtime) RemoveRootfs(ctx context.Context, key string) error {
	return r.removeSnapshot(r.ctx(ctx), key)
}

// RemoveRootfsOf removes every snapshot of sandbox id's containers.
func (r *Runtime) RemoveRootfsOf(ctx context.Context, id string) error {
	return r.removeSandboxSnapshots(r.ctx(ctx), id)
}

// Spec is c's spec over a root filesystem mounted at root (users and groups
// are looked up in its /etc), with the namespaces, mounts and cgroup of the
// default spec, for the caller to put in place; and the image's ID.
func (r *Runtime) Spec(ctx context.Context, id, root string, sb runtime.Sandbox, c runtime.Container) (*specs.Spec, string, error) {
	ctx = r.ctx(ctx)
	img, err := r.image(ctx, c.Image)
	if err != nil {
		return nil, "", err
	}
	opts := append([]oci.SpecOpts{oci.WithRootFSPath(root)}, containerSpec(img, sb, c)...)
	spec, err := oci.GenerateSpec(ctx, r.client, &containers.Container{ID: id}, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("making the spec of %s: %w", c.Name, err)
	}
	return spec, imageRef(img), nil
}

// LinuxResources are res as an in-place update's OCI resources.
func LinuxResources(res runtime.Resources) *specs.LinuxResources { return linuxResources(res, true) }
