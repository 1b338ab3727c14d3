package containerd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/errdefs"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// StopSandbox implements runtime.Runtime, as CRI's StopPodSandbox: every
// container's task is stopped and deleted (its shim exits) with its exit kept
// in the container's labels, and the sandbox's cgroup and namespaces go. The
// containers, their logs and the sandbox's record stay, so statuses and logs
// can be read until RemoveSandbox.
func (r *Runtime) StopSandbox(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	if _, err := r.loadSandbox(id); err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return nil
		}
		return err
	}
	list, err := r.containersOf(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range list {
		if err := stopTask(ctx, c, 0); err != nil {
			return fmt.Errorf("stopping container %s: %w", c.ID(), err)
		}
		task, err := c.Task(ctx, nil)
		if errdefs.IsNotFound(err) {
			continue // stopped before
		}
		if err != nil {
			return fmt.Errorf("reading task of %s: %w", c.ID(), err)
		}
		st, err := r.status(ctx, id, c)
		if err != nil {
			return err
		}
		if st.State == runtime.StateExited {
			if _, err := c.SetLabels(ctx, map[string]string{labelExitCode: strconv.Itoa(int(st.ExitCode)), labelReason: st.Reason,
				labelFinished: st.Finished.UTC().Format(time.RFC3339Nano)}); err != nil {
				return fmt.Errorf("labelling container %s: %w", c.ID(), err)
			}
		}
		if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("deleting task of %s: %w", c.ID(), err)
		}
		r.removeFifos(id, c.ID())
	}
	return r.releaseCompute(id)
}
