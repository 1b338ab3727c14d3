package agent

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// registerHost creates or updates the Host object with this agent's capacity and
// runtime, and stamps its heartbeat.
func (a *Agent) registerHost(ctx context.Context) error {
	spec := v1alpha1.HostSpec{Capacity: a.cfg.Capacity, Runtime: a.cfg.Runtime.Name()}
	host := &v1alpha1.Host{}
	err := a.client.Get(ctx, client.ObjectKey{Name: a.cfg.HostName}, host)
	switch {
	case apierrors.IsNotFound(err):
		host = &v1alpha1.Host{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.HostName}, Spec: spec}
		if err := a.client.Create(ctx, host); err != nil {
			return fmt.Errorf("registering host %s: %w", a.cfg.HostName, err)
		}
	case err != nil:
		return fmt.Errorf("reading host %s: %w", a.cfg.HostName, err)
	case host.Spec.Capacity != spec.Capacity || host.Spec.Runtime != spec.Runtime:
		host.Spec.Capacity, host.Spec.Runtime = spec.Capacity, spec.Runtime // Unschedulable is the operator's
		if err := a.client.Update(ctx, host); err != nil {
			return fmt.Errorf("updating host %s: %w", a.cfg.HostName, err)
		}
	}
	now := metav1.Now()
	host.Status.HeartbeatTime = &now
	if err := a.client.Status().Update(ctx, host); err != nil {
		return fmt.Errorf("host %s heartbeat: %w", a.cfg.HostName, err)
	}
	return nil
}

// renewLeases renews the lease of every node this host runs.
// Each node's Ready condition follows its sandbox's health on the way.
func (a *Agent) renewLeases(ctx context.Context) error {
	list := &v1alpha1.SandboxList{}
	if err := a.client.List(ctx, list); err != nil {
		return fmt.Errorf("listing sandboxes: %w", err)
	}
	health := a.runtimeHealth(ctx)
	for i := range list.Items {
		sb := &list.Items[i]
		if sb.Spec.Host != a.cfg.HostName || sb.Status.Phase != v1alpha1.SandboxRunning || sb.DeletionTimestamp != nil {
			continue
		}
		node := &corev1.Node{}
		if err := a.client.Get(ctx, client.ObjectKey{Name: sb.Spec.NodeName}, node); err != nil {
			continue // registered by the sandbox reconciler
		}
		if err := a.renewLease(ctx, node); err != nil {
			return err
		}
		if err := a.syncNodeReady(ctx, node, sb.Name, health); err != nil {
			return err
		}
	}
	return nil
}

// sweep deletes what a lost event or a crash may have left behind: nodes of this
// host and runtime sandboxes whose Sandbox object is gone. Never a leaked node.
func (a *Agent) sweep(ctx context.Context) error {
	list := &v1alpha1.SandboxList{}
	if err := a.client.List(ctx, list); err != nil {
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
		err := a.client.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.Sandbox{})
		return apierrors.IsNotFound(err)
	}
	nodes := &corev1.NodeList{}
	if err := a.client.List(ctx, nodes, client.MatchingLabels{LabelHost: a.cfg.HostName}); err != nil {
		return fmt.Errorf("listing nodes of host %s: %w", a.cfg.HostName, err)
	}
	var errs []error
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if gone(n.Labels[LabelSandbox]) {
			if err := a.deleteNode(ctx, &v1alpha1.Sandbox{Spec: v1alpha1.SandboxSpec{NodeName: n.Name}}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	ids, err := a.cfg.Runtime.Sandboxes(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("listing runtime sandboxes: %w", err))...)
	}
	for _, id := range ids {
		if gone(id) {
			if err := a.cfg.Runtime.RemoveSandbox(ctx, id); err != nil {
				errs = append(errs, fmt.Errorf("removing leftover sandbox %s: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}
