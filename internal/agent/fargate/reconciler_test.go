package fargate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/fargo-dev/fargo/internal/agent/podworker"
	"github.com/fargo-dev/fargo/internal/network/cni"
	fakeruntime "github.com/fargo-dev/fargo/internal/runtime/fake"
	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// The reconciler suite: the Fargate sub-steps against a fake API server
// (controller-runtime's fake client), the fake runtime with its call records
// and injectable errors, a recording network and a fake clock. No processes.

// recNetwork records the networks it was asked for.
type recNetwork struct {
	up  map[string]string
	err error
}

func (n *recNetwork) Setup(_ context.Context, id string, ip net.IP, _ *net.IPNet) (string, error) {
	if n.err != nil {
		return "", n.err
	}
	n.up[id] = ip.String()
	return "/run/netns/test-" + id, nil
}

func (n *recNetwork) Teardown(_ context.Context, id string) error {
	delete(n.up, id)
	return nil
}

func (n *recNetwork) Sandboxes() ([]string, error) {
	var ids []string
	for id := range n.up {
		ids = append(ids, id)
	}
	return ids, nil
}

type suite struct {
	t     *testing.T
	c     client.Client // as the reconciler's cached client sees the API
	api   client.Client // the API itself (the uncached reader)
	rt    *fakeruntime.Runtime
	net   *recNetwork
	clock *clocktesting.FakeClock
	r     *Reconciler
}

const (
	host = "host-a"
	node = "fargate-ip-192-168-1-5.local-1.compute.internal"
)

func newSuite(t *testing.T, objs ...client.Object) *suite {
	return newSuiteWith(t, interceptor.Funcs{}, objs...)
}

// newSuiteWith puts funcs between the reconciler and the fake API server.
func newSuiteWith(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) *suite {
	raw := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.Sandbox{}, &corev1.Pod{}, &corev1.Node{}).
		WithIndex(&corev1.Pod{}, nodeNameField, indexNodeName).
		WithIndex(&v1alpha1.Sandbox{}, sandboxNodeField, indexSandboxNode).Build()
	s := &suite{t: t, c: interceptor.NewClient(raw, funcs), api: raw, rt: fakeruntime.New(), net: &recNetwork{up: map[string]string{}},
		clock: clocktesting.NewFakeClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))}
	s.r = s.reconciler()
	return s
}

// reconciler is a fresh reconciler over the suite's API, runtime and network: an
// agent (re)started.
func (s *suite) reconciler() *Reconciler {
	ctx, cancel := context.WithCancel(context.Background())
	s.t.Cleanup(cancel)
	rec := record.NewFakeRecorder(100)
	pods, err := podworker.New(ctx, podworker.Config{Client: s.c, Reader: s.c, Recorder: rec, Runtime: s.rt, Clock: s.clock, Dir: s.t.TempDir()})
	if err != nil {
		s.t.Fatal(err)
	}
	return &Reconciler{Client: s.c, Reader: s.api, Recorder: rec, Runtime: s.rt, Network: s.net, Pods: pods, Clock: s.clock,
		Host: host, Region: "local-1", KubeletVersion: "v1.37.2", gate: newStartGate(1)}
}

// events drains the events recorded so far, as "Type Reason Message".
func (s *suite) events() []string {
	var out []string
	for {
		select {
		case e := <-s.r.Recorder.(*record.FakeRecorder).Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// Host state another fargo left where the sandbox's network goes is an event
// on the pod naming it and the command that clears it, not only a log line.
func TestNetworkConflictIsAPodEvent(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod)
	s.net.err = fmt.Errorf("network: %w", &cni.ConflictError{What: "network namespace /run/netns/fargo-host-a_ip-192-168-1-5 already exists"})
	if err := s.reconcile(); err == nil {
		t.Fatal("reconcile over another's netns succeeded")
	}
	ev := s.events()
	if !slices.ContainsFunc(ev, func(e string) bool {
		return strings.HasPrefix(e, "Warning FailedCreatePodSandBox") && strings.Contains(e, "/run/netns/fargo-host-a_ip-192-168-1-5 already exists") &&
			strings.Contains(e, "fargo uninstall")
	}) {
		t.Errorf("want a FailedCreatePodSandBox event naming the netns and fargo uninstall, got %q", ev)
	}
}

func (s *suite) reconcile() error {
	_, err := s.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "ip-192-168-1-5"}})
	return err
}

func (s *suite) sandbox() *v1alpha1.Sandbox {
	sb := &v1alpha1.Sandbox{}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: "ip-192-168-1-5"}, sb); err != nil {
		s.t.Fatalf("reading the sandbox: %v", err)
	}
	return sb
}

// finish marks the pod Succeeded, as its pod worker does when its containers
// have ended, and reconciles.
func (s *suite) finish(pod *corev1.Pod) {
	s.t.Helper()
	done := &corev1.Pod{}
	if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(pod), done); err != nil {
		s.t.Fatal(err)
	}
	done.Status.Phase = corev1.PodSucceeded
	if err := s.c.Status().Update(context.Background(), done); err != nil {
		s.t.Fatal(err)
	}
	if err := s.reconcile(); err != nil {
		s.t.Fatal(err)
	}
}

func condition(sb *v1alpha1.Sandbox, t string) *metav1.Condition {
	for i := range sb.Status.Conditions {
		if sb.Status.Conditions[i].Type == t {
			return &sb.Status.Conditions[i]
		}
	}
	return nil
}

func objects() (*v1alpha1.Sandbox, *corev1.Pod) {
	sb := &v1alpha1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: "ip-192-168-1-5", Finalizers: []string{v1alpha1.SandboxFinalizer}},
		Spec: v1alpha1.SandboxSpec{Pod: v1alpha1.PodReference{Namespace: "apps", Name: "web", UID: "uid-1"}, Profile: "fp",
			CapacityProvisioned: "0.25vCPU 0.5GB", MilliCPU: 250, MemoryMiB: 512, EphemeralStorageGiB: 20, SubnetID: "subnet-a",
			SubnetCIDR: "192.168.0.0/19", Zone: "local-1a", IP: "192.168.1.5", NodeName: node, Host: host}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", UID: "uid-1"},
		Spec: corev1.PodSpec{NodeName: node, SchedulerName: v1alpha1.SchedulerName,
			Containers: []corev1.Container{{Name: "app", Image: "registry.local/app:1", Command: []string{"sleep"}}}}}
	return sb, pod
}

// Every step succeeds in order and is recorded with its time; the pod runs.
func TestStepsInOrder(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.100.0.1", Ports: []corev1.ServicePort{{Port: 443}}}})
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	got := s.sandbox()
	for _, step := range []string{v1alpha1.SandboxLaunched, v1alpha1.SandboxRegistered, v1alpha1.SandboxReady} {
		c := condition(got, step)
		if c == nil || c.Status != metav1.ConditionTrue || !c.LastTransitionTime.Time.Equal(s.clock.Now()) {
			t.Errorf("condition %s = %+v, want True at %s", step, c, s.clock.Now())
		}
	}
	if got.Status.Phase != v1alpha1.SandboxRunning || got.Status.NodeName != node {
		t.Errorf("status %+v, want Running on %s", got.Status, node)
	}
	if s.net.up["ip-192-168-1-5"] != "192.168.1.5" {
		t.Errorf("network %v, want the sandbox at 192.168.1.5", s.net.up)
	}
	n := &corev1.Node{}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: node}, n); err != nil {
		t.Fatalf("node not registered: %v", err)
	}
	if n.Labels[v1alpha1.LabelComputeType] != v1alpha1.ComputeFargate || n.Labels[v1alpha1.LabelHost] != host || n.Labels[v1alpha1.LabelIsolation] != "container" ||
		len(n.Spec.Taints) != 1 || n.Status.Capacity.Cpu().MilliValue() != 250 {
		t.Errorf("node %s: labels %v, taints %v, capacity %v", node, n.Labels, n.Spec.Taints, n.Status.Capacity)
	}
	if err := s.c.Get(context.Background(), client.ObjectKey{Namespace: leaseNamespace, Name: node}, &coordinationv1.Lease{}); err != nil {
		t.Errorf("lease: %v", err)
	}
	p := &corev1.Pod{}
	if err := s.c.Get(context.Background(), client.ObjectKeyFromObject(pod), p); err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodRunning || p.Status.PodIP != "192.168.1.5" || len(p.Status.ContainerStatuses) != 1 ||
		p.Status.ContainerStatuses[0].State.Running == nil {
		t.Errorf("pod status %+v, want Running at 192.168.1.5", p.Status)
	}
}

// A launch that fails is recorded (Failed, Launched=False with the reason) and
// retried; once the runtime recovers, the same reconcile goes on.
func TestLaunchFailsThenResumes(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod)
	s.rt.Fail("CreateSandbox", errors.New("disk full"))
	if err := s.reconcile(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("reconcile with a failing runtime: %v, want the runtime's error", err)
	}
	got := s.sandbox()
	if c := condition(got, v1alpha1.SandboxLaunched); c == nil || c.Status != metav1.ConditionFalse || c.Reason != "LaunchFailed" ||
		!strings.Contains(c.Message, "disk full") || got.Status.Phase != v1alpha1.SandboxFailed {
		t.Errorf("after a failed launch: phase %s, Launched %+v", got.Status.Phase, c)
	}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: node}, &corev1.Node{}); !apierrors.IsNotFound(err) {
		t.Errorf("node registered after a failed launch: %v", err)
	}
	s.rt.Fail("CreateSandbox", nil)
	s.clock.Step(5 * time.Second)
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	got = s.sandbox()
	if c := condition(got, v1alpha1.SandboxLaunched); c == nil || c.Status != metav1.ConditionTrue || !c.LastTransitionTime.Time.Equal(s.clock.Now()) {
		t.Errorf("after recovery: Launched %+v, want True since %s", c, s.clock.Now())
	}
	if got.Status.Phase != v1alpha1.SandboxRunning || got.Status.Message != "" {
		t.Errorf("after recovery: phase %s message %q", got.Status.Phase, got.Status.Message)
	}
}

// A node that cannot be registered is recorded (Registered=False with the API
// server's error) and the pod is not run; the next reconcile registers it.
func TestRegisterFailsThenResumes(t *testing.T) {
	sb, pod := objects()
	refuse := true
	s := newSuiteWith(t, interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
		if _, isNode := o.(*corev1.Node); isNode && refuse {
			return apierrors.NewForbidden(corev1.Resource("nodes"), o.GetName(), errors.New("node quota"))
		}
		return c.Create(ctx, o, opts...)
	}}, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	if err := s.reconcile(); err == nil || !strings.Contains(err.Error(), "node quota") {
		t.Fatalf("reconcile with nodes refused: %v", err)
	}
	got := s.sandbox()
	if c := condition(got, v1alpha1.SandboxRegistered); c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "node quota") {
		t.Errorf("Registered = %+v, want False with the API server's reason", c)
	}
	if ev := s.events(); !slices.ContainsFunc(ev, func(e string) bool {
		return strings.HasPrefix(e, "Warning FailedRegisterNode Failed to register node "+node) && strings.Contains(e, "node quota")
	}) {
		t.Errorf("no FailedRegisterNode event on the pod with the API server's reason: %q", ev)
	}
	if c := condition(got, v1alpha1.SandboxLaunched); c == nil || c.Status != metav1.ConditionTrue || got.Status.Phase == v1alpha1.SandboxRunning {
		t.Errorf("after a failed registration: Launched %+v, phase %s; want launched, not Running", c, got.Status.Phase)
	}
	for _, call := range s.rt.Calls() {
		if strings.HasPrefix(call, "StartContainer") {
			t.Errorf("a container started before the node was registered: %v", s.rt.Calls())
		}
	}
	refuse = false
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if c := condition(s.sandbox(), v1alpha1.SandboxRegistered); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("after the API server recovered: Registered %+v", c)
	}
}

// A restarted agent picks the sandbox up where it was: no container started
// twice, step times kept.
func TestResumeAfterRestart(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	first := condition(s.sandbox(), v1alpha1.SandboxRegistered).LastTransitionTime
	s.clock.Step(time.Minute)
	s.r = s.reconciler()
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	starts := 0
	for _, c := range s.rt.Calls() {
		if strings.HasPrefix(c, "StartContainer ") {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("containers started %d times across the restart (%v), want once", starts, s.rt.Calls())
	}
	if got := condition(s.sandbox(), v1alpha1.SandboxRegistered).LastTransitionTime; !got.Equal(&first) {
		t.Errorf("Registered moved from %s to %s on restart", first, got)
	}
}

// A sandbox is launched once per agent process: later reconciles (every event
// of its pod) skip the launch; a restarted agent launches it again (healing what
// changed meanwhile), and so does the relist finding it gone from the runtime.
func TestLaunchedOncePerProcess(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	launches := func() int {
		n := 0
		for _, c := range s.rt.Calls() {
			if strings.HasPrefix(c, "CreateSandbox ") {
				n++
			}
		}
		return n
	}
	for range 3 {
		if err := s.reconcile(); err != nil {
			t.Fatal(err)
		}
	}
	if n := launches(); n != 1 {
		t.Fatalf("%d launches in three reconciles, want 1", n)
	}
	s.r = s.reconciler() // the agent restarted
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if n := launches(); n != 2 {
		t.Fatalf("%d launches after a restart, want 2", n)
	}
	if err := s.rt.RemoveSandbox(context.Background(), sb.Name); err != nil {
		t.Fatal(err)
	}
	if err := s.r.relist(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if n := launches(); n != 3 {
		t.Errorf("%d launches after the runtime lost the sandbox, want 3", n)
	}
	if _, err := s.rt.Containers(context.Background(), sb.Name); err != nil {
		t.Errorf("the lost sandbox is not back in the runtime: %v", err)
	}
}

// A node deleted from outside is registered again, as kubelet re-registers.
func TestLostNodeIsRegisteredAgain(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}); err != nil {
		t.Fatal(err)
	}
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: node}, &corev1.Node{}); err != nil {
		t.Errorf("deleted node not registered again: %v", err)
	}
}

// A node of this sandbox that an earlier agent process created, which this
// process's cache does not show yet, is adopted, not an error.
func TestRegisterAdoptsItsNodeTheCacheMisses(t *testing.T) {
	sb, pod := objects()
	mine := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{v1alpha1.LabelSandbox: sb.Name}}}
	cacheMisses := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
		if _, ok := o.(*corev1.Node); ok {
			return apierrors.NewNotFound(corev1.Resource("nodes"), k.Name)
		}
		return c.Get(ctx, k, o, opts...)
	}}
	s := newSuiteWith(t, cacheMisses, sb, pod, mine, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	if err := s.reconcile(); err != nil {
		t.Fatalf("registering beside its own node the cache misses: %v", err)
	}
	got := &v1alpha1.Sandbox{}
	if err := s.api.Get(context.Background(), client.ObjectKeyFromObject(sb), got); err != nil || !done(got, v1alpha1.SandboxRegistered) {
		t.Errorf("sandbox %v registered %v; want registered", err, done(got, v1alpha1.SandboxRegistered))
	}
}

// Release tears everything down, records Released and lets the Sandbox go; a
// failure keeps the finalizer (and so the IP) until a retry succeeds.
func TestReleaseFailsThenResumes(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Delete(context.Background(), s.sandbox()); err != nil {
		t.Fatal(err)
	}
	s.rt.Fail("RemoveSandbox", errors.New("shim stuck"))
	if err := s.reconcile(); err == nil || !strings.Contains(err.Error(), "shim stuck") {
		t.Fatalf("release with a failing runtime: %v", err)
	}
	if got := s.sandbox(); !slices.Contains(got.Finalizers, v1alpha1.SandboxFinalizer) {
		t.Error("finalizer removed although the runtime sandbox is still there")
	}
	s.rt.Fail("RemoveSandbox", nil)
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: "ip-192-168-1-5"}, &v1alpha1.Sandbox{}); !apierrors.IsNotFound(err) {
		t.Errorf("sandbox still there after release: %v", err)
	}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: node}, &corev1.Node{}); !apierrors.IsNotFound(err) {
		t.Errorf("node still there after release: %v", err)
	}
	if ids, _ := s.rt.Sandboxes(context.Background()); len(ids) != 0 || len(s.net.up) != 0 {
		t.Errorf("left behind: runtime sandboxes %v, networks %v", ids, s.net.up)
	}
}

// The sweep removes a node, runtime sandbox and network whose Sandbox is gone.
func TestSweepLeftovers(t *testing.T) {
	s := newSuite(t, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "fargate-ip-192-168-9-9.local-1.compute.internal",
		Labels: map[string]string{v1alpha1.LabelHost: host, v1alpha1.LabelSandbox: "ip-192-168-9-9"}}})
	ctx := context.Background()
	_, pod := objects()
	sb, _ := objects()
	sb.Name = "ip-192-168-9-9"
	if err := s.r.launchSandbox(ctx, sb, pod); err != nil {
		t.Fatal(err)
	}
	if err := s.r.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Get(ctx, client.ObjectKey{Name: "fargate-ip-192-168-9-9.local-1.compute.internal"}, &corev1.Node{}); !apierrors.IsNotFound(err) {
		t.Errorf("leaked node kept: %v", err)
	}
	if ids, _ := s.rt.Sandboxes(ctx); len(ids) != 0 || len(s.net.up) != 0 {
		t.Errorf("left behind: runtime sandboxes %v, networks %v", ids, s.net.up)
	}
}

// A finished pod's sandbox is stopped: the runtime stops it, its network goes,
// its node stays, cordoned; stopping again does nothing; deleting the Sandbox
// (the pod deleted) then releases the rest.
func TestFinishedPodStopsItsSandbox(t *testing.T) {
	sb, pod := objects()
	s := newSuite(t, sb, pod, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}})
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	s.finish(pod)
	if c := condition(s.sandbox(), v1alpha1.SandboxStopped); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "PodSucceeded" {
		t.Fatalf("Stopped condition %+v, want True PodSucceeded", c)
	}
	if !slices.Contains(s.rt.Calls(), "StopSandbox ip-192-168-1-5") || slices.Contains(s.rt.Calls(), "RemoveSandbox ip-192-168-1-5") {
		t.Errorf("runtime calls %v: want the sandbox stopped, not removed", s.rt.Calls())
	}
	if len(s.net.up) != 0 {
		t.Errorf("networks %v left up after the stop", s.net.up)
	}
	n := &corev1.Node{}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: node}, n); err != nil || !n.Spec.Unschedulable {
		t.Errorf("node after the stop: %v, unschedulable %v; want it kept and cordoned", err, n.Spec.Unschedulable)
	}
	calls := len(s.rt.Calls())
	if err := s.reconcile(); err != nil || len(s.rt.Calls()) != calls {
		t.Errorf("a second reconcile of a stopped sandbox: %v, calls %v", err, s.rt.Calls()[calls:])
	}
	if err := s.c.Delete(context.Background(), s.sandbox()); err != nil {
		t.Fatal(err)
	}
	if err := s.reconcile(); err != nil {
		t.Fatal(err)
	}
	if err := s.c.Get(context.Background(), client.ObjectKey{Name: node}, &corev1.Node{}); !apierrors.IsNotFound(err) {
		t.Errorf("node still there after release: %v", err)
	}
}
