package webhook

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func readmitSuite(t *testing.T, registered bool, objs ...client.Object) (*Readmitter, client.Client, *record.FakeRecorder) {
	fp := &v1alpha1.FargateProfile{ObjectMeta: metav1.ObjectMeta{Name: "fp", CreationTimestamp: metav1.NewTime(t0)},
		Spec:   v1alpha1.FargateProfileSpec{Selectors: []v1alpha1.FargateProfileSelector{{Namespace: "apps"}}},
		Status: v1alpha1.FargateProfileStatus{Status: v1alpha1.ProfileActive}}
	objs = append(objs, fp)
	if registered {
		objs = append(objs, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: configName},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: podWebhookName}}})
	}
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).Build()
	rec := record.NewFakeRecorder(10)
	r := &Readmitter{Client: c, Recorder: rec, Clock: clocktesting.NewFakeClock(t0.Add(time.Hour))}
	r.last = map[k8stypes.UID]time.Time{}
	return r, c, rec
}

func pendingPod(name string, created time.Time, owned bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, UID: k8stypes.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec:   corev1.PodSpec{SchedulerName: corev1.DefaultSchedulerName, Containers: []corev1.Container{{Name: "c", Image: "x"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	if owned {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "rs-1", Controller: &yes}}
	}
	return p
}

func readmit(t *testing.T, r *Readmitter, name string) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "apps", Name: name}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func exists(c client.Client, name string) bool {
	return c.Get(context.Background(), client.ObjectKey{Namespace: "apps", Name: name}, &corev1.Pod{}) == nil
}

// A pod a ReplicaSet owns, created after its profile was ACTIVE but not sent to
// the fargate-scheduler, is deleted for its owner to re-create; once per minute.
func TestReadmitOwnedPod(t *testing.T) {
	r, c, rec := readmitSuite(t, true, pendingPod("web-a", t0.Add(time.Minute), true), pendingPod("web-b", t0.Add(time.Minute), true))
	readmit(t, r, "web-a")
	if exists(c, "web-a") {
		t.Error("the pod that slipped past the webhook was not deleted")
	}
	if e := <-rec.Events; !strings.Contains(e, "FargateReadmission") || !strings.Contains(e, "ReplicaSet web-1") {
		t.Errorf("event %q", e)
	}
	if res := readmit(t, r, "web-b"); res.RequeueAfter == 0 || !exists(c, "web-b") {
		t.Errorf("a second pod of the same owner within a minute: requeue %s, exists %v", res.RequeueAfter, exists(c, "web-b"))
	}
}

func TestReadmitBarePodWarnsOnce(t *testing.T) {
	r, c, rec := readmitSuite(t, true, pendingPod("bare", t0.Add(time.Minute), false))
	readmit(t, r, "bare")
	readmit(t, r, "bare")
	if !exists(c, "bare") {
		t.Fatal("a bare pod was deleted")
	}
	if e := <-rec.Events; !strings.Contains(e, "Warning FargateProfileNotApplied") || !strings.Contains(e, "delete it and create it again") {
		t.Errorf("event %q", e)
	}
	select {
	case e := <-rec.Events:
		t.Errorf("warned twice: %q", e)
	default:
	}
}

func TestReadmitLeavesOthersAlone(t *testing.T) {
	before := pendingPod("before", t0.Add(-time.Minute), true) // older than its profile: EKS leaves it too
	placed := pendingPod("placed", t0.Add(time.Minute), true)
	placed.Spec.NodeName = "ip-10-0-0-1"
	r, c, _ := readmitSuite(t, true, before, placed)
	for _, name := range []string{"before", "placed"} {
		readmit(t, r, name)
		if !exists(c, name) {
			t.Errorf("%s was deleted", name)
		}
	}
	// Not while the webhook is not registered: the new pod would slip past too.
	r, c, _ = readmitSuite(t, false, pendingPod("web-a", t0.Add(time.Minute), true))
	if res := readmit(t, r, "web-a"); !exists(c, "web-a") || res.RequeueAfter == 0 {
		t.Errorf("re-admitted while the webhook is not registered (requeue %s)", res.RequeueAfter)
	}
}
