package scheduler

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// The scheduler's steps against a fake API server and a fake clock: claim a
// Sandbox on a live host, wait for its node, bind with CapacityProvisioned.

type schedSuite struct {
	c     client.Client
	s     *Scheduler
	rec   *record.FakeRecorder
	clock *clocktesting.FakeClock
	binds *int // bindings created
}

func newSchedSuite(t *testing.T, heartbeat time.Duration) *schedSuite {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	beat := metav1.NewTime(clk.Now().Add(-heartbeat))
	objs := []client.Object{
		&v1alpha1.FargateProfile{ObjectMeta: metav1.ObjectMeta{Name: "fp"},
			Spec:   v1alpha1.FargateProfileSpec{Subnets: []string{"subnet-a"}, Selectors: []v1alpha1.FargateProfileSelector{{Namespace: "apps"}}},
			Status: v1alpha1.FargateProfileStatus{Status: v1alpha1.ProfileActive}},
		&v1alpha1.Host{ObjectMeta: metav1.ObjectMeta{Name: "h1"}, Spec: v1alpha1.HostSpec{Capacity: v1alpha1.HostCapacity{MilliCPU: 2000, MemoryMiB: 4096}},
			Status: v1alpha1.HostStatus{HeartbeatTime: &beat}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", UID: "uid-1"},
			Spec: corev1.PodSpec{SchedulerName: v1alpha1.SchedulerName, Containers: []corev1.Container{{Name: "c", Image: "img"}}}},
	}
	// The fake API server has no pods/binding: do what the apiserver does.
	binds := new(int)
	bind := func(ctx context.Context, c client.Client, sub string, o client.Object, req client.Object, _ ...client.SubResourceCreateOption) error {
		*binds++
		b := req.(*corev1.Binding)
		pod := o.(*corev1.Pod)
		pod.Spec.NodeName, pod.Annotations = b.Target.Name, b.Annotations
		return c.Update(ctx, pod)
	}
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).
		WithStatusSubresource(&corev1.Pod{}, &v1alpha1.Sandbox{}).WithInterceptorFuncs(interceptor.Funcs{SubResourceCreate: bind}).Build()
	_, subnet, _ := net.ParseCIDR("192.168.0.0/19")
	rec := record.NewFakeRecorder(100)
	s := &Scheduler{Client: c, Reader: c, Recorder: rec, Region: "local-1", Subnets: map[string]Subnet{"subnet-a": {Net: subnet, Zone: "local-1a"}},
		HostGrace: DefaultHostGrace, Clock: clk}
	return &schedSuite{c: c, s: s, rec: rec, clock: clk, binds: binds}
}

func (x *schedSuite) reconcile(t *testing.T) ctrl.Result {
	t.Helper()
	res, err := x.s.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "apps", Name: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// claimOne reconciles the pod once and returns the one Sandbox claimed.
func (x *schedSuite) claimOne(t *testing.T) v1alpha1.Sandbox {
	t.Helper()
	x.reconcile(t)
	list := &v1alpha1.SandboxList{}
	if err := x.c.List(context.Background(), list); err != nil || len(list.Items) != 1 {
		t.Fatalf("sandboxes %v, %v; want one claim", list.Items, err)
	}
	return list.Items[0]
}

func TestClaimThenBind(t *testing.T) {
	x := newSchedSuite(t, time.Second)
	sb := x.claimOne(t)
	if sb.Name != "ip-192-168-0-4" || sb.Spec.Host != "h1" || sb.Spec.CapacityProvisioned != "0.25vCPU 0.5GB" ||
		sb.Spec.NodeName != "fargate-ip-192-168-0-4.local-1.compute.internal" || sb.Labels[v1alpha1.LabelPodUID] != "uid-1" {
		t.Errorf("claim %s: %+v", sb.Name, sb.Spec)
	}
	// Not bound until the host has registered the node and it is Ready.
	pod := &corev1.Pod{}
	_ = x.c.Get(context.Background(), client.ObjectKey{Namespace: "apps", Name: "web"}, pod)
	if pod.Spec.NodeName != "" {
		t.Fatalf("bound to %s before the node exists", pod.Spec.NodeName)
	}
	// A node of that name not registered by this sandbox (no label) is not its.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if err := x.c.Create(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	x.reconcile(t)
	_ = x.c.Get(context.Background(), client.ObjectKey{Namespace: "apps", Name: "web"}, pod)
	if pod.Spec.NodeName != "" {
		t.Fatalf("bound to %s, a node its sandbox did not register", pod.Spec.NodeName)
	}
	// The sandbox's node, Ready: bound at once, before the host records the
	// sandbox's status.
	node.Labels = map[string]string{v1alpha1.LabelSandbox: sb.Name}
	if err := x.c.Update(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	x.reconcile(t)
	_ = x.c.Get(context.Background(), client.ObjectKey{Namespace: "apps", Name: "web"}, pod)
	if pod.Spec.NodeName != sb.Spec.NodeName || pod.Annotations[v1alpha1.AnnotationCapacity] != "0.25vCPU 0.5GB" {
		t.Errorf("pod on %q with annotations %v, want bound to %s with CapacityProvisioned", pod.Spec.NodeName, pod.Annotations, sb.Spec.NodeName)
	}
}

// A reconcile that still sees the pod unbound (the cache behind the binding)
// does not bind it again, which the API server would refuse (409).
func TestBindsOnce(t *testing.T) {
	x := newSchedSuite(t, time.Second)
	sb := x.claimOne(t)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: sb.Spec.NodeName, Labels: map[string]string{v1alpha1.LabelSandbox: sb.Name}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if err := x.c.Create(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	x.reconcile(t)
	if *x.binds != 1 {
		t.Fatalf("%d bindings; want 1", *x.binds)
	}
	pod := &corev1.Pod{}
	_ = x.c.Get(context.Background(), client.ObjectKey{Namespace: "apps", Name: "web"}, pod)
	pod.Spec.NodeName = "" // as a cache that has not seen the binding yet shows it
	if err := x.c.Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	x.reconcile(t)
	if *x.binds != 1 {
		t.Fatalf("%d bindings after a reconcile on a stale pod; want still 1", *x.binds)
	}
}

// A host silent past its grace gets nothing; the pod waits and is placed once
// the host beats again.
func TestSilentHostThenResume(t *testing.T) {
	x := newSchedSuite(t, time.Minute)
	if res := x.reconcile(t); res.RequeueAfter == 0 {
		t.Errorf("no retry scheduled while no host is live: %+v", res)
	}
	list := &v1alpha1.SandboxList{}
	if _ = x.c.List(context.Background(), list); len(list.Items) != 0 {
		t.Fatalf("claimed %v on a silent host", list.Items)
	}
	select {
	case ev := <-x.rec.Events:
		if !strings.Contains(ev, "FailedScheduling") || !strings.Contains(ev, "h1") {
			t.Errorf("event %q, want FailedScheduling naming the silent host", ev)
		}
	default:
		t.Error("no FailedScheduling event")
	}
	host := &v1alpha1.Host{}
	_ = x.c.Get(context.Background(), client.ObjectKey{Name: "h1"}, host)
	now := metav1.NewTime(x.clock.Now())
	host.Status.HeartbeatTime = &now
	if err := x.c.Update(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	x.reconcile(t)
	if _ = x.c.List(context.Background(), list); len(list.Items) != 1 {
		t.Errorf("sandboxes %v after the host came back, want one", list.Items)
	}
}

// Addresses a node group holds are never given to a Fargate pod.
func TestClaimSkipsReservedAddresses(t *testing.T) {
	x := newSchedSuite(t, time.Second)
	_, block, _ := net.ParseCIDR("192.168.0.0/28") // .4 to .15 held by a node
	x.s.Reserved = block.Contains
	x.reconcile(t)
	list := &v1alpha1.SandboxList{}
	if err := x.c.List(context.Background(), list); err != nil || len(list.Items) != 1 {
		t.Fatalf("sandboxes %v, %v; want one claim", list.Items, err)
	}
	if ip := list.Items[0].Spec.IP; ip != "192.168.0.16" {
		t.Errorf("claimed %s; want 192.168.0.16, the first address outside the node's block", ip)
	}
}

// A nodeSelector naming a node does not apply on Fargate: the pod runs on its
// own node, and an event says why.
func TestNotApplicable(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeSelector: map[string]string{"kubernetes.io/hostname": "ip-192-168-1-5.local-1.compute.internal"}}}
	if msg := notApplicable(pod); !strings.HasPrefix(msg, "Not applicable on Fargate: nodeSelector kubernetes.io/hostname=ip-192-168-1-5") {
		t.Errorf("message %q", msg)
	}
	pod.Spec.NodeSelector = map[string]string{"topology.kubernetes.io/zone": "local-1a"} // a zone still chooses the subnet
	if msg := notApplicable(pod); msg != "" {
		t.Errorf("a zone nodeSelector reported not applicable: %q", msg)
	}
}
