package scheduler

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fargo-dev/fargo/internal/network/names"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// SetupWithManager registers the scheduler (pods, re-queued by sandbox and profile
// changes) and the releaser (sandboxes, re-queued by pod changes).
func (s *Scheduler) SetupWithManager(mgr ctrl.Manager) error {
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		p, ok := o.(*corev1.Pod)
		return ok && p.Spec.SchedulerName == v1alpha1.SchedulerName
	})
	if s.HostGrace == 0 {
		s.HostGrace = DefaultHostGrace
	}
	err := ctrl.NewControllerManagedBy(mgr).Named(v1alpha1.SchedulerName).
		WithOptions(controller.Options{MaxConcurrentReconciles: Workers}).
		For(&corev1.Pod{}, builder.WithPredicates(ours)).
		Watches(&v1alpha1.Sandbox{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: podKey(o.(*v1alpha1.Sandbox))}}
		})).
		// A released sandbox frees room on its host.
		Watches(&v1alpha1.Sandbox{}, handler.Funcs{DeleteFunc: func(_ context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			s.wakeHungry(q)
		}}).
		// A node turning Ready lets its pod bind.
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(s.podOfNode)).
		// Any host change may make room: capacity, a cordon lifted, or a heartbeat
		// after a silence longer than HostGrace (a status-only update).
		Watches(&v1alpha1.Host{}, handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
			return requests(s.retries.hungry())
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
		Watches(&v1alpha1.Host{}, handler.EnqueueRequestsFromMapFunc(s.sandboxesOnHost)).
		Complete(r)
}

// Workers is how many pods the scheduler works on at once; claims are serialised,
// the API round trips around them are not.
const Workers = 32

func requests(pods []types.NamespacedName) []reconcile.Request {
	out := make([]reconcile.Request, len(pods))
	for i, p := range pods {
		out[i] = reconcile.Request{NamespacedName: p}
	}
	return out
}

func (s *Scheduler) wakeHungry(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	for _, r := range requests(s.retries.hungry()) {
		q.Add(r)
	}
}

// podOfNode maps a Fargate node to the pod its sandbox runs.
func (s *Scheduler) podOfNode(ctx context.Context, o client.Object) []reconcile.Request {
	name, ok := names.SandboxOfNode(o.GetName())
	if !ok {
		return nil
	}
	sb := &v1alpha1.Sandbox{}
	if err := s.Client.Get(ctx, client.ObjectKey{Name: name}, sb); err != nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: podKey(sb)}}
}

// sandboxesOnHost maps a host to the sandboxes placed on it, for release.
func (s *Scheduler) sandboxesOnHost(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.SandboxList{}
	if err := s.Client.List(ctx, list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Spec.Host == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// allWaiting re-queues every pod still waiting for the fargate-scheduler.
func (s *Scheduler) allWaiting(ctx context.Context, _ client.Object) []reconcile.Request {
	pods := &corev1.PodList{}
	if err := s.Client.List(ctx, pods, client.UnsafeDisableDeepCopy); err != nil {
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
	if err := s.Client.List(ctx, list, client.MatchingLabels{v1alpha1.LabelPodUID: string(o.GetUID())}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
