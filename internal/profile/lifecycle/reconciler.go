// Package lifecycle moves FargateProfiles through EKS's states: CREATING → ACTIVE,
// and on delete DELETING (the pods scheduled through the profile are deleted so
// their controllers re-create them elsewhere) → gone.
package lifecycle

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fargo-dev/fargo/internal/profile"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// drainPoll is how often a DELETING profile checks whether its pods are gone.
const drainPoll = time.Second

// Reconciler reconciles one FargateProfile in ordered sub-steps.
type Reconciler struct {
	Client  client.Client
	Cluster profile.Cluster
}

// SetupWithManager registers the reconciler.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("fargateprofile").For(&v1alpha1.FargateProfile{}).Complete(r)
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &v1alpha1.FargateProfile{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if p.DeletionTimestamp != nil {
		return r.delete(ctx, p)
	}
	return ctrl.Result{}, r.create(ctx, p)
}

// create: finalizer first (so a delete always drains), then ACTIVE with the ARN.
func (r *Reconciler) create(ctx context.Context, p *v1alpha1.FargateProfile) error {
	if controllerutil.AddFinalizer(p, v1alpha1.ProfileFinalizer) {
		if err := r.Client.Update(ctx, p); err != nil {
			return fmt.Errorf("adding finalizer to profile %s: %w", p.Name, err)
		}
	}
	if p.Status.Status == v1alpha1.ProfileActive {
		return nil
	}
	created := p.CreationTimestamp
	p.Status = v1alpha1.FargateProfileStatus{
		Status:            v1alpha1.ProfileActive,
		FargateProfileArn: ARN(r.Cluster, p),
		CreatedAt:         &created,
	}
	if err := r.Client.Status().Update(ctx, p); err != nil {
		return fmt.Errorf("activating profile %s: %w", p.Name, err)
	}
	log.FromContext(ctx).Info("Fargate profile active", "profile", p.Name)
	return nil
}

// delete: DELETING, delete the profile's pods, wait until they are gone, release.
func (r *Reconciler) delete(ctx context.Context, p *v1alpha1.FargateProfile) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(p, v1alpha1.ProfileFinalizer) {
		return ctrl.Result{}, nil
	}
	if p.Status.Status != v1alpha1.ProfileDeleting {
		p.Status.Status = v1alpha1.ProfileDeleting
		if err := r.Client.Status().Update(ctx, p); err != nil {
			return ctrl.Result{}, fmt.Errorf("marking profile %s DELETING: %w", p.Name, err)
		}
	}
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.MatchingLabels{v1alpha1.LabelProfile: p.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing pods of profile %s: %w", p.Name, err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		if err := r.Client.Delete(ctx, pod); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("deleting pod %s/%s of profile %s: %w", pod.Namespace, pod.Name, p.Name, err)
		}
		log.FromContext(ctx).Info("deleted pod of deleted Fargate profile", "profile", p.Name, "pod", client.ObjectKeyFromObject(pod))
	}
	if len(pods.Items) > 0 {
		return ctrl.Result{RequeueAfter: drainPoll}, nil
	}
	controllerutil.RemoveFinalizer(p, v1alpha1.ProfileFinalizer)
	if err := r.Client.Update(ctx, p); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("releasing profile %s: %w", p.Name, err)
	}
	return ctrl.Result{}, nil
}

// ARN is the profile's EKS ARN: arn:aws:eks:<region>:<account>:fargateprofile/<cluster>/<name>/<uuid>.
func ARN(c profile.Cluster, p metav1.Object) string {
	return fmt.Sprintf("arn:aws:eks:%s:%s:fargateprofile/%s/%s/%s", c.Region, c.AccountID, c.Name, p.GetName(), p.GetUID())
}
