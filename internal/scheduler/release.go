package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Releaser deletes the Sandbox of a pod that is gone (or replaced by another of
// the same name). A finished pod keeps its Sandbox, stopped by the host agent,
// so that its node and logs stay until the pod is deleted, and the pod GC never
// takes it for an orphan. The host agent holds the object (finalizer) until
// teardown, so its IP stays taken until then;
// a sandbox whose host is gone (its Host object deleted) has no one left to tear
// it down, so the releaser lets it go.
type Releaser struct {
	Client client.Client
}

// Reconcile implements reconcile.Reconciler for Sandboxes.
func (r *Releaser) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sb := &v1alpha1.Sandbox{}
	if err := r.Client.Get(ctx, req.NamespacedName, sb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if sb.DeletionTimestamp != nil {
		return ctrl.Result{}, r.orphan(ctx, sb)
	}
	pod := &corev1.Pod{}
	err := r.Client.Get(ctx, podKey(sb), pod)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return ctrl.Result{}, err
	case string(pod.UID) == sb.Spec.Pod.UID:
		return ctrl.Result{}, nil // still needed
	}
	if err := r.Client.Delete(ctx, sb); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("releasing sandbox %s: %w", sb.Name, err)
	}
	return ctrl.Result{}, nil
}

// orphan drops the teardown finalizer of a released sandbox whose host is gone.
func (r *Releaser) orphan(ctx context.Context, sb *v1alpha1.Sandbox) error {
	if !controllerutil.ContainsFinalizer(sb, v1alpha1.SandboxFinalizer) {
		return nil
	}
	if sb.Spec.Host != "" {
		err := r.Client.Get(ctx, client.ObjectKey{Name: sb.Spec.Host}, &v1alpha1.Host{})
		if !apierrors.IsNotFound(err) {
			return client.IgnoreNotFound(err) // the host tears it down
		}
	}
	patch := client.MergeFrom(sb.DeepCopy())
	controllerutil.RemoveFinalizer(sb, v1alpha1.SandboxFinalizer)
	if err := r.Client.Patch(ctx, sb, patch); err != nil {
		return fmt.Errorf("releasing sandbox %s of gone host %q: %w", sb.Name, sb.Spec.Host, err)
	}
	return nil
}
