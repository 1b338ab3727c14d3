package clusterdns

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// fieldOwner is the field manager of what fargo applies.
const fieldOwner = "fargo"

// Install applies the service account, RBAC and Service as c says, creates the
// ConfigMap and the Deployment when missing, and otherwise only brings the
// Deployment's image up to date: a user's Corefile, replicas or annotations
// (EKS's guide removes the compute-type annotation to move CoreDNS to Fargate)
// stay as they are.
func Install(ctx context.Context, cl client.Client, c Config) error {
	for _, o := range c.owned() {
		// Server-side apply needs the type on the object; the scheme knows it.
		gvk, err := apiutil.GVKForObject(o, cl.Scheme())
		if err != nil {
			return fmt.Errorf("applying %s: %w", o.GetName(), err)
		}
		o.GetObjectKind().SetGroupVersionKind(gvk)
		if err := cl.Patch(ctx, o, client.Apply, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", gvk.Kind, o.GetName(), err)
		}
	}
	if err := cl.Create(ctx, c.configMap()); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ConfigMap %s/%s: %w", Namespace, Name, err)
	}
	want := c.deployment()
	err := cl.Create(ctx, want)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("creating Deployment %s/%s: %w", Namespace, Name, err)
		}
		return nil
	}
	return updateImage(ctx, cl, c.Image)
}

// updateImage sets the coredns container's image, when it differs.
func updateImage(ctx context.Context, cl client.Client, image string) error {
	d := &appsv1.Deployment{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Name}, d); err != nil {
		return fmt.Errorf("reading Deployment %s/%s: %w", Namespace, Name, err)
	}
	patch := client.StrategicMergeFrom(d.DeepCopy())
	changed := false
	for i := range d.Spec.Template.Spec.Containers {
		ctr := &d.Spec.Template.Spec.Containers[i]
		if ctr.Name == Name && ctr.Image != image {
			ctr.Image, changed = image, true
		}
	}
	if !changed {
		return nil
	}
	if err := cl.Patch(ctx, d, patch); err != nil {
		return fmt.Errorf("updating the image of Deployment %s/%s: %w", Namespace, Name, err)
	}
	return nil
}
