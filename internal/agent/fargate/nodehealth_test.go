package fargate

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	fakeruntime "github.com/fargo-dev/fargo/internal/runtime/fake"
)

func TestSyncNodeReady(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "fargate-ip-192-168-1-5.local-1.compute.internal"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}}}
	c := fake.NewClientBuilder().WithObjects(node).WithStatusSubresource(&corev1.Node{}).Build()
	a := &Reconciler{Client: c, Runtime: fakeruntime.New(), Clock: clock.RealClock{}}
	ready := func() corev1.NodeCondition {
		n := &corev1.Node{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(node), n); err != nil {
			t.Fatal(err)
		}
		*node = *n
		return n.Status.Conditions[0]
	}
	for _, tc := range []struct {
		name string
		h    runtimeHealth
		want corev1.ConditionStatus
	}{
		{"sandbox missing", runtimeHealth{sandboxes: map[string]bool{}}, corev1.ConditionFalse},
		{"sandbox back", runtimeHealth{sandboxes: map[string]bool{"ip-192-168-1-5": true}}, corev1.ConditionTrue},
		{"runtime down", runtimeHealth{err: errors.New("connection refused")}, corev1.ConditionFalse},
	} {
		if err := a.syncNodeReady(context.Background(), node, "ip-192-168-1-5", false, tc.h); err != nil {
			t.Fatal(err)
		}
		if got := ready(); got.Status != tc.want {
			t.Errorf("%s: Ready=%s (%s: %s), want %s", tc.name, got.Status, got.Reason, got.Message, tc.want)
		}
	}
}
