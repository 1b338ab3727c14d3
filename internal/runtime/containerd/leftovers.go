package containerd

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
)

// A create cut off by a crash (kill -9 of the agent or containerd) can leave a
// snapshot without its container: containerd makes the snapshot first. Every
// create step is idempotent against such leftovers.

// snapshots is the default snapshotter, the one WithNewSnapshot uses.
func (r *Runtime) snapshots() snapshots.Snapshotter { return r.client.SnapshotService("") }

// removeSnapshot removes the snapshot key, which no container owns.
func (r *Runtime) removeSnapshot(ctx context.Context, key string) error {
	err := r.snapshots().Remove(ctx, key)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("removing leftover snapshot %s: %w", key, err)
	}
	return nil
}

// removeSandboxSnapshots removes the snapshots of a sandbox's containers that
// outlived them.
func (r *Runtime) removeSandboxSnapshots(ctx context.Context, sandboxID string) error {
	var keys []string
	err := r.snapshots().Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if strings.HasPrefix(info.Name, sandboxID+"_") {
			keys = append(keys, info.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing snapshots of sandbox %s: %w", sandboxID, err)
	}
	for _, k := range keys {
		if err := r.removeSnapshot(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
