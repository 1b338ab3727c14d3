package clusterdns

import (
	"context"
	"net"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func TestScheduleOnFargateAnnotatesTheTemplateOnce(t *testing.T) {
	ctx := context.Background()
	cl := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	if moved, err := ScheduleOnFargate(ctx, cl); err != nil || moved {
		t.Fatalf("without CoreDNS: moved %v, %v; want nothing done", moved, err)
	}
	if err := Install(ctx, cl, Config{Address: net.ParseIP("10.100.0.10"), Image: "fargo.local/coredns:a"}); err != nil {
		t.Fatal(err)
	}
	if moved, err := ScheduleOnFargate(ctx, cl); err != nil || !moved {
		t.Fatalf("moved %v, %v; want the annotation changed", moved, err)
	}
	d := &appsv1.Deployment{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Name}, d); err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Annotations[v1alpha1.AnnotationComputeType]; got != v1alpha1.ComputeFargate {
		t.Errorf("compute-type %q, want fargate", got)
	}
	if sc := d.Spec.Template.Spec.Containers[0].SecurityContext; sc == nil || sc.Capabilities != nil || sc.ReadOnlyRootFilesystem == nil {
		t.Errorf("security context %+v, want the rest kept and no capabilities added (Fargate refuses them)", sc)
	}
	if moved, err := ScheduleOnFargate(ctx, cl); err != nil || moved {
		t.Errorf("second call: moved %v, %v; want nothing to do", moved, err)
	}
}

func TestNotOnFargateSaysWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	cl := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	if err := Install(ctx, cl, Config{Address: net.ParseIP("10.100.0.10"), Image: "fargo.local/coredns:a"}); err != nil {
		t.Fatal(err)
	}
	pod := func(name, node string, ready bool) *corev1.Pod {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: map[string]string{AppLabel: AppValue, Component: Name}},
			Spec:   corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
	}
	steps := []struct {
		pod  *corev1.Pod
		want string
	}{
		{nil, "0 of 2 ready"},
		{pod("a", "fargate-ip-192-168-96-5.local-1.compute.internal", true), "1 of 2 ready"},
		{pod("b", "ip-192-168-96-7.local-1.compute.internal", true), `pod b is on node ip-192-168-96-7`},
	}
	for _, s := range steps {
		if s.pod != nil {
			if err := cl.Create(ctx, s.pod); err != nil {
				t.Fatal(err)
			}
		}
		got, err := notOnFargate(ctx, cl)
		if err != nil || !strings.Contains(got, s.want) {
			t.Errorf("got %q, %v; want %q", got, err, s.want)
		}
	}
	if err := cl.Delete(ctx, pod("b", "", false)); err != nil {
		t.Fatal(err)
	}
	if err := cl.Create(ctx, pod("c", "fargate-ip-192-168-96-6.local-1.compute.internal", true)); err != nil {
		t.Fatal(err)
	}
	if got, err := notOnFargate(ctx, cl); err != nil || got != "" {
		t.Errorf("both ready on Fargate: got %q, %v; want done", got, err)
	}
}
