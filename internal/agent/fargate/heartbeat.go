package fargate

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Heartbeat is the host heartbeat's share of the Fargate nodes: it renews
// every node lease (each node's Ready following its sandbox's health) and sweeps
// what a lost event or a crash left behind.
func (r *Reconciler) Heartbeat(ctx context.Context) error {
	return errors.Join(r.renewLeases(ctx), r.sweep(ctx))
}

// renewLeases renews the lease of every node this host runs.
// Each node's Ready condition follows its sandbox's health on the way.
func (r *Reconciler) renewLeases(ctx context.Context) error {
	list := &v1alpha1.SandboxList{}
	if err := r.Client.List(ctx, list); err != nil {
		return fmt.Errorf("listing sandboxes: %w", err)
	}
	health := r.runtimeHealth(ctx)
	for i := range list.Items {
		sb := &list.Items[i]
		if sb.Spec.Host != r.Host || sb.Status.Phase != v1alpha1.SandboxRunning || sb.DeletionTimestamp != nil {
			continue
		}
		node := &corev1.Node{}
		if err := r.Client.Get(ctx, client.ObjectKey{Name: sb.Spec.NodeName}, node); err != nil {
			continue // registered by the sandbox reconciler
		}
		if err := r.renewLease(ctx, node); err != nil {
			return err
		}
		if err := r.syncNodeReady(ctx, node, sb.Name, stopped(sb), health); err != nil {
			return err
		}
	}
	return nil
}

// sweep deletes what a lost event or a crash may have left behind: nodes of this
// host and runtime sandboxes whose Sandbox object is gone. Never a leaked node.
func (r *Reconciler) sweep(ctx context.Context) error {
	list := &v1alpha1.SandboxList{}
	if err := r.Client.List(ctx, list); err != nil {
		return fmt.Errorf("listing sandboxes: %w", err)
	}
	known := map[string]bool{}
	for i := range list.Items {
		known[list.Items[i].Name] = true
	}
	// A sandbox created since the list is in the cache by the time its node or
	// runtime sandbox exists: look again before deleting.
	gone := func(name string) bool {
		if known[name] {
			return false
		}
		err := r.Client.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.Sandbox{})
		return apierrors.IsNotFound(err)
	}
	nodes := &corev1.NodeList{}
	if err := r.Client.List(ctx, nodes, client.MatchingLabels{v1alpha1.LabelHost: r.Host}); err != nil {
		return fmt.Errorf("listing nodes of host %s: %w", r.Host, err)
	}
	var errs []error
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if gone(n.Labels[v1alpha1.LabelSandbox]) {
			if err := r.deleteNode(ctx, n.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ids, err := r.Runtime.Sandboxes(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing runtime sandboxes: %w", err))...)
	}
	for _, id := range ids {
		if gone(id) {
			if r.Endpoints != nil {
				r.Endpoints.Close(id)
			}
			if err := r.Runtime.RemoveSandbox(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("removing leftover sandbox %s: %w", id, err))
			}
		}
	}
	nets, err := r.Network.Sandboxes()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, id := range nets {
		if gone(id) {
			if err := r.Network.Teardown(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("removing the leftover network of sandbox %s: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}
