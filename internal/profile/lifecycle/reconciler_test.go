package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/fargo-dev/fargo/internal/profile"
	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

var cluster = profile.Cluster{Name: "fargo", Region: "local-1", AccountID: "000000000000"}

func setup(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) (client.Client, *Reconciler) {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.FargateProfile{}).WithInterceptorFuncs(funcs).Build()
	return c, &Reconciler{Client: c, Cluster: cluster}
}

func reconcile(t *testing.T, r *Reconciler) (ctrl.Result, error) {
	t.Helper()
	return r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "fp"}})
}

func get(t *testing.T, c client.Client) *v1alpha1.FargateProfile {
	t.Helper()
	p := &v1alpha1.FargateProfile{}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "fp"}, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// A new profile gets its finalizer, then ACTIVE with its ARN; a status write
// that fails is retried by the next reconcile, which resumes there.
func TestCreateResumes(t *testing.T) {
	failStatus := true
	c, r := setup(t, interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
		if failStatus {
			return errors.New("etcd unavailable")
		}
		return c.SubResource(sub).Update(ctx, o, opts...)
	}}, &v1alpha1.FargateProfile{ObjectMeta: metav1.ObjectMeta{Name: "fp", UID: "u1"}})
	if _, err := reconcile(t, r); err == nil || !strings.Contains(err.Error(), "etcd unavailable") {
		t.Fatalf("reconcile with a failing status write: %v", err)
	}
	if p := get(t, c); len(p.Finalizers) != 1 || p.Status.Status == v1alpha1.ProfileActive {
		t.Fatalf("after a failed activation: finalizers %v, status %q", p.Finalizers, p.Status.Status)
	}
	failStatus = false
	if _, err := reconcile(t, r); err != nil {
		t.Fatal(err)
	}
	p := get(t, c)
	if p.Status.Status != v1alpha1.ProfileActive || p.Status.FargateProfileArn != "arn:aws:eks:local-1:000000000000:fargateprofile/fargo/fp/u1" {
		t.Errorf("status %+v, want ACTIVE with the EKS ARN", p.Status)
	}
}

// A deleted profile goes DELETING, deletes its pods, waits for them, then goes.
func TestDeleteDrainsPods(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p", Labels: map[string]string{v1alpha1.LabelProfile: "fp"},
		Finalizers: []string{"test/hold"}}}
	c, r := setup(t, interceptor.Funcs{}, &v1alpha1.FargateProfile{ObjectMeta: metav1.ObjectMeta{Name: "fp", UID: "u1"}}, pod)
	if _, err := reconcile(t, r); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(context.Background(), get(t, c)); err != nil {
		t.Fatal(err)
	}
	res, err := reconcile(t, r)
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("delete with a pod left: %+v, %v; want a re-check", res, err)
	}
	if p := get(t, c); p.Status.Status != v1alpha1.ProfileDeleting {
		t.Errorf("status %q, want DELETING while pods remain", p.Status.Status)
	}
	held := &corev1.Pod{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), held); err != nil || held.DeletionTimestamp == nil {
		t.Fatalf("the profile's pod was not deleted: %v", err)
	}
	held.Finalizers = nil // the pod goes
	if err := c.Update(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	if _, err := reconcile(t, r); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), client.ObjectKey{Name: "fp"}, &v1alpha1.FargateProfile{}); !apierrors.IsNotFound(err) {
		t.Errorf("profile still there after its pods went: %v", err)
	}
}
