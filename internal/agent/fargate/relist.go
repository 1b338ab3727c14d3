package fargate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// RelistPeriod is how often the runtime is asked what its containers are
// doing, as kubelet's PLEG relists (1 s).
const RelistPeriod = time.Second

// Relist asks the runtime, once per period for the whole host, what the
// containers of each running sandbox are doing, and wakes the sandboxes whose
// containers changed (started, exited, restarted): one relist instead of each
// sandbox polling for itself. It runs until ctx ends.
func (r *Reconciler) Relist(ctx context.Context) error {
	tick := r.Clock.NewTicker(RelistPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C():
		}
		if err := r.relist(ctx); err != nil {
			klog.FromContext(ctx).V(2).Info("relisting the runtime failed", "err", err)
		}
	}
}

func (r *Reconciler) relist(ctx context.Context) error {
	list := &v1alpha1.SandboxList{}
	// A read-only view of the cache: copying every sandbox each second adds up.
	if err := r.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing sandboxes: %w", err)
	}
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	live := map[string]bool{}
	for i := range list.Items {
		sb := &list.Items[i]
		if sb.Spec.Host != r.Host || sb.Status.Phase != v1alpha1.SandboxRunning || sb.DeletionTimestamp != nil || stopped(sb) {
			continue
		}
		live[sb.Name] = true
		cs, err := r.Runtime.Containers(ctx, sb.Name)
		if err != nil {
			r.launched.Delete(sb.Name)
			r.Wake(sb.Name) // lost by the runtime: launch heals it
			continue
		}
		states := make([]string, 0, len(cs))
		for _, c := range cs {
			states = append(states, fmt.Sprintf("%s=%s/%s/%d", c.Name, c.ID, c.State, c.ExitCode))
		}
		sort.Strings(states)
		now := strings.Join(states, ",")
		if before, ok := r.seen[sb.Name]; before != now && (ok || len(cs) > 0) {
			r.Wake(sb.Name) // changed, or first seen (a restart) with containers
		}
		r.seen[sb.Name] = now
	}
	for id := range r.seen {
		if !live[id] {
			delete(r.seen, id)
		}
	}
	return nil
}
