package webhook

import (
	"context"
	"fmt"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// AnnotationReadmission marks a bare pod that was told it slipped past the webhook.
const AnnotationReadmission = "fargo.dev/readmission"

// readmitEvery bounds how often one owner's pods are re-admitted, so a webhook
// that keeps failing does not make a controller re-create pods in a loop.
const readmitEvery = time.Minute

// Readmitter finds pods that slipped past the pod webhook while it was down (it
// fails open, as EKS's does): unscheduled, for the default scheduler, yet matched
// by a profile that was ACTIVE when they were created. A pod a controller owns is
// deleted, so that the controller creates it again through the webhook; a bare
// pod gets a warning event saying to re-create it. Nothing is done while the
// webhook is not registered: it would only happen again.
type Readmitter struct {
	Client   client.Client
	Recorder record.EventRecorder
	Clock    clock.Clock

	mu   sync.Mutex
	last map[types.UID]time.Time // owner → last re-admission
}

// SetupWithManager watches pods waiting for the default scheduler.
func (r *Readmitter) SetupWithManager(mgr ctrl.Manager) error {
	r.last = map[types.UID]time.Time{}
	waiting := predicate.NewPredicateFuncs(func(o client.Object) bool {
		p, ok := o.(*corev1.Pod)
		return ok && unmutated(p)
	})
	return ctrl.NewControllerManagedBy(mgr).Named("fargate-readmission").
		For(&corev1.Pod{}, builder.WithPredicates(waiting)).Complete(r)
}

// unmutated: a pod no scheduler has placed that fargo's webhook did not send to
// the fargate-scheduler.
func unmutated(p *corev1.Pod) bool {
	return p.Spec.NodeName == "" && p.DeletionTimestamp == nil && p.Spec.SchedulerName != v1alpha1.SchedulerName &&
		p.Labels[v1alpha1.LabelProfile] == "" && p.Status.Phase == corev1.PodPending
}

// Reconcile implements reconcile.Reconciler.
func (r *Readmitter) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	if err := r.Client.Get(ctx, req.NamespacedName, pod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !unmutated(pod) || pod.Annotations[AnnotationReadmission] != "" {
		return ctrl.Result{}, nil
	}
	chosen, err := r.profileFor(ctx, pod)
	if err != nil || chosen == nil {
		return ctrl.Result{}, err
	}
	if registered, err := r.webhookRegistered(ctx); err != nil || !registered {
		return ctrl.Result{RequeueAfter: 10 * time.Second}, err
	}
	owner := metav1.GetControllerOf(pod)
	if owner == nil {
		r.Recorder.Eventf(pod, corev1.EventTypeWarning, "FargateProfileNotApplied",
			"Fargate profile %s matches this pod, but the pod was created while fargo's pod webhook was unavailable, so it is not scheduled on Fargate; delete it and create it again", chosen.Name)
		patch := client.MergeFrom(pod.DeepCopy())
		metav1.SetMetaDataAnnotation(&pod.ObjectMeta, AnnotationReadmission, "warned")
		return ctrl.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, pod, patch))
	}
	if wait := r.wait(owner.UID); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	r.Recorder.Eventf(pod, corev1.EventTypeNormal, "FargateReadmission",
		"Fargate profile %s matches this pod, which was created while fargo's pod webhook was unavailable; deleted so that %s %s creates it again on Fargate", chosen.Name, owner.Kind, owner.Name)
	uid := pod.UID
	err = r.Client.Delete(ctx, pod, &client.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return ctrl.Result{}, fmt.Errorf("deleting pod %s/%s for re-admission: %w", pod.Namespace, pod.Name, err)
	}
	return ctrl.Result{}, nil
}

// profileFor is the profile that would have taken pod: ACTIVE, and created before it.
func (r *Readmitter) profileFor(ctx context.Context, pod *corev1.Pod) (*v1alpha1.FargateProfile, error) {
	list := &v1alpha1.FargateProfileList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing Fargate profiles: %w", err)
	}
	var active []*v1alpha1.FargateProfile
	for i := range list.Items {
		p := &list.Items[i]
		if profile.State(p) == v1alpha1.ProfileActive && p.CreationTimestamp.Before(&pod.CreationTimestamp) {
			active = append(active, p)
		}
	}
	return profile.Select(active, profile.Pod{Namespace: pod.Namespace, Labels: pod.Labels, Annotations: pod.Annotations}), nil
}

func (r *Readmitter) webhookRegistered(ctx context.Context) (bool, error) {
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: configName}, cfg); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading webhook configuration %s: %w", configName, err)
	}
	for _, w := range cfg.Webhooks {
		if w.Name == podWebhookName {
			return true, nil
		}
	}
	return false, nil
}

// wait is how long owner's pods must wait for their next re-admission; 0 records
// one now.
func (r *Readmitter) wait(owner types.UID) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Clock.Now()
	for o, t := range r.last {
		if now.Sub(t) >= readmitEvery {
			delete(r.last, o)
		}
	}
	if last, ok := r.last[owner]; ok && now.Sub(last) < readmitEvery {
		return readmitEvery - now.Sub(last)
	}
	r.last[owner] = now
	return 0
}
