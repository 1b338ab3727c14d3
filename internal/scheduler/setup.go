package scheduler

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fargo-dev/fargo/internal/webhook"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// SetupWithManager registers the scheduler (pods, re-queued by sandbox and profile
// changes) and the releaser (sandboxes, re-queued by pod changes).
func (s *Scheduler) SetupWithManager(mgr ctrl.Manager) error {
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		p, ok := o.(*corev1.Pod)
		return ok && p.Spec.SchedulerName == webhook.SchedulerName
	})
	err := ctrl.NewControllerManagedBy(mgr).Named(webhook.SchedulerName).
		For(&corev1.Pod{}, builder.WithPredicates(ours)).
		Watches(&v1alpha1.Sandbox{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: podKey(o.(*v1alpha1.Sandbox))}}
		})).
		Watches(&v1alpha1.FargateProfile{}, handler.EnqueueRequestsFromMapFunc(s.allWaiting)).
		Complete(s)
	if err != nil {
		return err
	}
	r := &Releaser{Client: mgr.GetClient()}
	return ctrl.NewControllerManagedBy(mgr).Named("sandbox-release").
		For(&v1alpha1.Sandbox{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(s.sandboxOf), builder.WithPredicates(ours)).
		Complete(r)
}

// allWaiting re-queues every pod still waiting for the fargate-scheduler.
func (s *Scheduler) allWaiting(ctx context.Context, _ client.Object) []reconcile.Request {
	pods := &corev1.PodList{}
	if err := s.Client.List(ctx, pods); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range pods.Items {
		if waiting(&pods.Items[i]) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pods.Items[i])})
		}
	}
	return out
}

// sandboxOf maps a pod to its sandbox, for release.
func (s *Scheduler) sandboxOf(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.SandboxList{}
	if err := s.Client.List(ctx, list, client.MatchingLabels{LabelPodUID: string(o.GetUID())}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
