package fargate

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// The meter's steps on the Sandbox: Pulling is written before the pod's first
// image pull; usage is read every readingsEvery intervals, and last as the pod stops.
func TestMeterSteps(t *testing.T) {
	sb, pod := objects()
	var s *suite
	callsAtPulling := -1
	s = newSuiteWith(t, interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
		if sb, ok := o.(*v1alpha1.Sandbox); ok && callsAtPulling < 0 && condition(sb, v1alpha1.SandboxPulling) != nil {
			callsAtPulling = len(s.rt.Calls())
		}
		return c.SubResource(sub).Update(ctx, o, opts...)
	}}, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	s.r.UsageInterval = time.Minute
	start := s.clock.Now()
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if callsAtPulling < 0 {
		t.Fatal("no Pulling step recorded")
	}
	if pulls := slices.IndexFunc(s.rt.Calls(), func(c string) bool { return strings.HasPrefix(c, "PullImage") }); pulls < callsAtPulling {
		t.Errorf("the image pull (call %d) came before the Pulling step was written (after call %d): %v", pulls, callsAtPulling, s.rt.Calls())
	}
	got := s.sandbox()
	if c := condition(got, v1alpha1.SandboxPulling); c.Status != metav1.ConditionTrue || !c.LastTransitionTime.Time.Equal(start) {
		t.Errorf("Pulling %+v; want True at %s", c, start)
	}
	if u := got.Status.Usage; u == nil || !u.Time.Time.Equal(start) {
		t.Fatalf("usage %+v; want a reading at %s", u, start)
	}
	s.clock.Step(readingsEvery*time.Minute - time.Second)
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if u := s.sandbox().Status.Usage; !u.Time.Time.Equal(start) {
		t.Errorf("usage read again %s after the last, before %d intervals", u.Time.Sub(start), readingsEvery)
	}
	s.clock.Step(2 * time.Second)
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if u := s.sandbox().Status.Usage; !u.Time.Time.Equal(s.clock.Now()) {
		t.Errorf("usage of %s; want read again at %s, past %d intervals", u.Time, s.clock.Now(), readingsEvery)
	}
	// The pod finishes: the last reading goes with the Stopped step.
	s.clock.Step(5 * time.Second)
	s.finish(pod)
	got = s.sandbox()
	if u := got.Status.Usage; !u.Time.Time.Equal(s.clock.Now()) || condition(got, v1alpha1.SandboxStopped) == nil {
		t.Errorf("usage %+v at the stop; want read at %s with the Stopped step", u, s.clock.Now())
	}
}

// A running pod deleted: its last reading goes with the Released step, taken
// before its runtime sandbox (and cgroup) is removed, however recent the last.
func TestMeterReadingAtRelease(t *testing.T) {
	sb, pod := objects()
	var released *v1alpha1.SandboxUsage
	var s *suite
	s = newSuiteWith(t, interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, o client.Object, opts ...client.SubResourceUpdateOption) error {
		if sb, ok := o.(*v1alpha1.Sandbox); ok && condition(sb, v1alpha1.SandboxReleased) != nil {
			released = sb.Status.Usage.DeepCopy()
		}
		return c.SubResource(sub).Update(ctx, o, opts...)
	}}, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	s.r.UsageInterval = time.Minute
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	s.clock.Step(10 * time.Minute) // well before the next periodic reading
	if err := s.c.Delete(context.Background(), s.sandbox()); err != nil {
		t.Fatal(err)
	}
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if released == nil || !released.Time.Time.Equal(s.clock.Now()) {
		t.Fatalf("usage written with Released: %+v; want read at the release, %s (the fake's Stats fails once it is removed)", released, s.clock.Now())
	}
}
