package podworker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/fargo-dev/fargo/internal/runtime"
	fakeruntime "github.com/fargo-dev/fargo/internal/runtime/fake"
	"github.com/fargo-dev/fargo/internal/scheme"
)

// The pod worker against a fake API server, the fake runtime and a fake clock.

var at = Placement{SandboxID: "ip-192-168-1-5", PodIP: "192.168.1.5", HostIP: "192.168.1.5", NodeName: "fargate-ip-192-168-1-5.local-1.compute.internal",
	Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")}}

type suite struct {
	t      *testing.T
	c      client.Client
	rt     *fakeruntime.Runtime
	clock  *clocktesting.FakeClock
	w      *Worker
	events *record.FakeRecorder
}

func newSuite(t *testing.T, pod *corev1.Pod) *suite {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(pod,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}}).
		WithStatusSubresource(&corev1.Pod{}).Build()
	s := &suite{t: t, c: c, rt: fakeruntime.New(), clock: clocktesting.NewFakeClock(time.Now()), events: record.NewFakeRecorder(100)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := New(ctx, Config{Client: c, Reader: c, Recorder: s.events, Runtime: s.rt, Clock: s.clock, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.w = w
	if err := s.rt.CreateSandbox(ctx, runtime.Sandbox{ID: at.SandboxID, MilliCPU: 250, MemoryMiB: 512}); err != nil {
		t.Fatal(err)
	}
	return s
}

// sync syncs the pod as stored and returns it as stored after.
func (s *suite) sync(key client.ObjectKey) (*corev1.Pod, time.Duration) {
	s.t.Helper()
	pod := &corev1.Pod{}
	if err := s.c.Get(context.Background(), key, pod); err != nil {
		s.t.Fatal(err)
	}
	again, err := s.w.Sync(context.Background(), pod, at)
	if err != nil {
		s.t.Fatalf("Sync: %v", err)
	}
	if err := s.c.Get(context.Background(), key, pod); err != nil {
		s.t.Fatal(err)
	}
	return pod, again
}

func pod(containers, inits []corev1.Container, policy corev1.RestartPolicy) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p", UID: "uid-1"},
		Spec: corev1.PodSpec{NodeName: at.NodeName, RestartPolicy: policy, Containers: containers, InitContainers: inits}}
}

func TestInitContainersThenApp(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}}},
		[]corev1.Container{{Name: "init1", Image: "img", Command: []string{"exit", "0"}}, {Name: "init2", Image: "img", Command: []string{"exit", "0"}}}, "")
	s := newSuite(t, p)
	got, again := s.sync(client.ObjectKeyFromObject(p))
	var order []string
	for _, c := range s.rt.Calls() {
		if name, ok := strings.CutPrefix(c, "StartContainer "+at.SandboxID+"/"); ok {
			order = append(order, name)
		}
	}
	if !slices.Equal(order, []string{"init1", "init2", "app"}) {
		t.Errorf("started %v, want init1, init2, then app", order)
	}
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != at.PodIP || len(got.Status.InitContainerStatuses) != 2 {
		t.Errorf("status %+v, want Running at %s with two init statuses", got.Status, at.PodIP)
	}
	if again != refresh {
		t.Errorf("a settled pod is looked at again after %s, want %s (the relist wakes it sooner)", again, refresh)
	}
}

// A crashing container waits out kubelet's back-off on the worker's clock.
func TestCrashLoopBackOff(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"exit", "1"}}}, nil, corev1.RestartPolicyAlways)
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	got, again := s.sync(key)
	if w := got.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "CrashLoopBackOff" || again != resync {
		t.Fatalf("after the first exit: %+v (again %s), want CrashLoopBackOff and a resync", got.Status.ContainerStatuses[0], again)
	}
	s.clock.Step(5 * time.Second)
	if got, _ = s.sync(key); got.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("restarted %d times within the 10 s back-off", got.Status.ContainerStatuses[0].RestartCount)
	}
	s.clock.Step(6 * time.Second)
	if got, _ = s.sync(key); got.Status.ContainerStatuses[0].RestartCount != 1 {
		t.Errorf("restart count %d after the back-off, want 1", got.Status.ContainerStatuses[0].RestartCount)
	}
}

// A pod being deleted has its containers stopped and is then deleted for good.
func TestTerminate(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}}}, nil, "")
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	running, _ := s.sync(key)
	now := metav1.NewTime(s.clock.Now().Add(30 * time.Second))
	running.DeletionTimestamp = &now
	if _, err := s.w.Sync(context.Background(), running, at); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.rt.Calls(), "StopContainer "+at.SandboxID+"/app") {
		t.Errorf("calls %v: the container was not stopped", s.rt.Calls())
	}
	if err := s.c.Get(context.Background(), key, &corev1.Pod{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod still there after termination: %v", err)
	}
}

// An image that cannot be pulled is reported and retried soon.
func TestPullFailure(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "registry.local/missing:1"}}, nil, "")
	s := newSuite(t, p)
	got, again := s.sync(client.ObjectKeyFromObject(p))
	if w := got.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ErrImagePull" || again != resync || got.Status.Phase != corev1.PodPending {
		t.Errorf("status %+v, phase %s, again %s; want ErrImagePull, Pending, a resync", got.Status.ContainerStatuses[0], got.Status.Phase, again)
	}
}

// A settled pod's status is written once: the next sync builds the same status
// as the one read back, whose times the API keeps to the second (the runtime
// reports start times to the nanosecond).
func TestStatusWrittenOnce(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "busybox"}}, nil, corev1.RestartPolicyAlways)
	s := newSuite(t, p)
	writes := 0
	s.c = interceptor.NewClient(s.c.(client.WithWatch), interceptor.Funcs{
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			writes++
			// The API server keeps times to the second: store them so.
			data, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			stored := &corev1.Pod{}
			if err := json.Unmarshal(data, stored); err != nil {
				return err
			}
			return c.SubResource(sub).Update(ctx, stored, opts...)
		}})
	s.w.status.Client = s.c
	got, _ := s.sync(client.ObjectKeyFromObject(p))
	if got.Status.Phase != corev1.PodRunning || writes != 1 {
		t.Fatalf("after the first sync: phase %s, %d status writes; want Running, 1", got.Status.Phase, writes)
	}
	for range 3 {
		s.sync(client.ObjectKeyFromObject(p))
	}
	if writes != 1 {
		t.Errorf("%d status writes after three more syncs of a settled pod, want 1", writes)
	}
}

// A failing init container: every init container is reported (the rest
// waiting), the app containers wait, and the conditions say what kubelet says.
// An init container that succeeded is ready, so only the failed one is
// incomplete in the Initialized condition, as kubelet reports it.
func TestSecondInitFailsAsKubelet(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}}},
		[]corev1.Container{{Name: "init1", Image: "img", Command: []string{"exit", "0"}}, {Name: "init2", Image: "img", Command: []string{"exit", "1"}}},
		corev1.RestartPolicyNever)
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	for range 2 { // the second sync sees init1 exited in the runtime
		got, _ := s.sync(key)
		if got.Status.Phase != corev1.PodFailed || !got.Status.InitContainerStatuses[0].Ready || got.Status.InitContainerStatuses[1].Ready {
			t.Fatalf("phase %s, init statuses %+v; want Failed, init1 ready, init2 not", got.Status.Phase, got.Status.InitContainerStatuses)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodInitialized && c.Message != "containers with incomplete status: [init2]" {
				t.Errorf("Initialized: %q, want kubelet's \"containers with incomplete status: [init2]\"", c.Message)
			}
		}
	}
}

func TestFailedInitConditionsAsKubelet(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}}},
		[]corev1.Container{{Name: "init1", Image: "img", Command: []string{"exit", "1"}}, {Name: "init2", Image: "img", Command: []string{"exit", "0"}}},
		corev1.RestartPolicyNever)
	p.Generation = 3
	s := newSuite(t, p)
	got, _ := s.sync(client.ObjectKeyFromObject(p))
	if got.Status.Phase != corev1.PodFailed || len(got.Status.InitContainerStatuses) != 2 {
		t.Fatalf("phase %s with %d init statuses, want Failed with both", got.Status.Phase, len(got.Status.InitContainerStatuses))
	}
	if w := got.Status.InitContainerStatuses[1].State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Errorf("init2: %+v, want waiting PodInitializing", got.Status.InitContainerStatuses[1].State)
	}
	if w := got.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Errorf("app: %+v, want waiting PodInitializing", got.Status.ContainerStatuses[0].State)
	}
	if got.Status.ObservedGeneration != 3 {
		t.Errorf("status.observedGeneration %d, want the pod's generation 3", got.Status.ObservedGeneration)
	}
	want := map[corev1.PodConditionType]string{
		corev1.PodInitialized:  "ContainersNotInitialized: containers with incomplete status: [init1 init2]",
		corev1.ContainersReady: "PodFailed: ",
		corev1.PodReady:        "PodFailed: ",
	}
	for _, c := range got.Status.Conditions {
		if w, ok := want[c.Type]; ok {
			if c.Status != corev1.ConditionFalse || c.Reason+": "+c.Message != w {
				t.Errorf("%s: %s %s: %s, want False %s", c.Type, c.Status, c.Reason, c.Message, w)
			}
			delete(want, c.Type)
		}
		if c.ObservedGeneration != 3 {
			t.Errorf("%s: observedGeneration %d, want 3", c.Type, c.ObservedGeneration)
		}
	}
	if len(want) > 0 {
		t.Errorf("conditions missing: %v", want)
	}
}

// A running pod with an unready container: kubelet's reason and message.
func TestUnreadyConditionsAsKubelet(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}},
		{Name: "web", Image: "img", Command: []string{"sleep"}, ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}}}}, nil, "")
	s := newSuite(t, p)
	got, _ := s.sync(client.ObjectKeyFromObject(p))
	for _, c := range got.Status.Conditions {
		switch c.Type {
		case corev1.PodInitialized:
			if c.Status != corev1.ConditionTrue {
				t.Errorf("Initialized %s (%s), want True with no init containers", c.Status, c.Message)
			}
		case corev1.PodReady, corev1.ContainersReady:
			if c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [web]" {
				t.Errorf("%s: %s %s %q, want False ContainersNotReady \"containers with unready status: [web]\"", c.Type, c.Status, c.Reason, c.Message)
			}
		}
	}
}

// activeDeadlineSeconds: looked at again when due, then the containers are
// stopped and the pod Failed with kubelet's reason and message.
func TestActiveDeadline(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}}}, nil, corev1.RestartPolicyAlways)
	p.Spec.ActiveDeadlineSeconds = ptr.To(int64(5))
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	got, again := s.sync(key)
	if got.Status.Phase != corev1.PodRunning || again > 5*time.Second {
		t.Fatalf("phase %s, again in %s; want Running and a look within the 5 s deadline", got.Status.Phase, again)
	}
	s.clock.Step(3 * time.Second)
	if got, again = s.sync(key); got.Status.Phase != corev1.PodRunning || again > 2*time.Second {
		t.Errorf("3 s in: phase %s, again in %s; want Running, looked at again within 2 s", got.Status.Phase, again)
	}
	s.clock.Step(3 * time.Second)
	got, _ = s.sync(key)
	if got.Status.Phase != corev1.PodFailed || got.Status.Reason != "DeadlineExceeded" || got.Status.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("past the deadline: %s %s %q; want Failed DeadlineExceeded", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if !slices.Contains(s.rt.Calls(), "StopContainer "+at.SandboxID+"/app") {
		t.Errorf("calls %v: the container was not stopped", s.rt.Calls())
	}
	if term := got.Status.ContainerStatuses[0].State.Terminated; term == nil {
		t.Errorf("container status %+v, want terminated", got.Status.ContainerStatuses[0].State)
	}
}

// What a run writes to its terminationMessagePath becomes its terminated
// state's message.
func TestTerminationMessage(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"exit", "1"}, TerminationMessagePath: "/dev/termination-log"}}, nil, corev1.RestartPolicyAlways)
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	got, _ := s.sync(key)
	if last := got.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.Message != "" {
		t.Fatalf("after the exit: %+v, want terminated with no message yet", got.Status.ContainerStatuses[0])
	}
	logFile := filepath.Join(s.w.cfg.Dir, "uid-1", "containers", "app", "0.termination-log")
	if err := os.WriteFile(logFile, []byte("disk full"), 0o666); err != nil {
		t.Fatalf("the run's termination log: %v", err)
	}
	if got, _ = s.sync(key); got.Status.ContainerStatuses[0].LastTerminationState.Terminated.Message != "disk full" {
		t.Errorf("message %q, want what the run wrote", got.Status.ContainerStatuses[0].LastTerminationState.Terminated.Message)
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	var b strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "2026-12-02T10:00:00Z stdout F line %d\n", i)
	}
	b.WriteString("2026-12-02T10:00:00Z stderr P half \n2026-12-02T10:00:00Z stderr F and half\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got := logTail(path)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != maxMessageLogLines || lines[0] != "line 21" || lines[len(lines)-1] != "half and half" {
		t.Errorf("tail: %d lines, first %q, last %q; want the last 80, partial records joined", len(lines), lines[0], lines[len(lines)-1])
	}
	// `echo -n DONE`: the last line unfinished, a partial record at the exit.
	if err := os.WriteFile(path, []byte("2026-12-02T10:00:00Z stdout P DONE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := logTail(path); got != "DONE" {
		t.Errorf("tail of an unfinished line: %q; want DONE, as kubelet gives", got)
	}
}

// Ephemeral containers (kubectl debug) start in the running pod, are reported in
// ephemeralContainerStatuses and are never restarted.
func TestEphemeralContainers(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}}}, nil, corev1.RestartPolicyAlways)
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	p, _ = s.sync(key)
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{
		{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger", Image: "img", Command: []string{"sleep"}}},
		{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "once", Image: "img", Command: []string{"exit", "3"}}}}
	if err := s.c.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	got, _ := s.sync(key)
	st := got.Status.EphemeralContainerStatuses
	if len(st) != 2 || st[0].Name != "debugger" || st[0].State.Running == nil || st[1].State.Terminated == nil || st[1].State.Terminated.ExitCode != 3 {
		t.Fatalf("ephemeral statuses %+v, want debugger running and once terminated with 3", st)
	}
	s.clock.Step(time.Minute) // past any back-off
	got, _ = s.sync(key)
	starts := 0
	for _, c := range s.rt.Calls() {
		if c == "StartContainer "+at.SandboxID+"/once" {
			starts++
		}
	}
	if starts != 1 || got.Status.EphemeralContainerStatuses[1].RestartCount != 0 || got.Status.Phase != corev1.PodRunning {
		t.Errorf("once started %d times (restarts %d), phase %s; want 1, 0, Running", starts, got.Status.EphemeralContainerStatuses[1].RestartCount, got.Status.Phase)
	}
}

// $(VAR) in command and args is the container's variable, as kubelet expands
// it: here the fake runtime's "exit N" gets N from the environment.
func TestCommandArgsExpansion(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"exit"}, Args: []string{"$(CODE)"},
		Env: []corev1.EnvVar{{Name: "CODE", Value: "3"}}}}, nil, corev1.RestartPolicyNever)
	s := newSuite(t, p)
	got, _ := s.sync(client.ObjectKeyFromObject(p))
	if term := got.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 {
		t.Errorf("app: %+v, want terminated with 3 ($(CODE) expanded)", got.Status.ContainerStatuses[0].State)
	}
}

// The pod's sysctls reach the runtime with each container.
func TestSysctls(t *testing.T) {
	c := runtimeContainer(&corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{
		Sysctls: []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}}}}}, &corev1.Container{Name: "c"}, 0, nil)
	if c.Sysctls["kernel.shm_rmid_forced"] != "1" {
		t.Errorf("sysctls %v, want kernel.shm_rmid_forced=1", c.Sysctls)
	}
}

// A sidecar (an init container with restartPolicy Always) keeps running while
// the next init container and the app start, as under kubelet.
func TestSidecar(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}}},
		[]corev1.Container{{Name: "proxy", Image: "img", Command: []string{"sleep"}, RestartPolicy: &always},
			{Name: "init", Image: "img", Command: []string{"exit", "0"}}}, corev1.RestartPolicyNever)
	s := newSuite(t, p)
	got, _ := s.sync(client.ObjectKeyFromObject(p))
	if got.Status.Phase != corev1.PodRunning || got.Status.InitContainerStatuses[0].State.Running == nil ||
		got.Status.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("phase %s, sidecar %+v, app %+v; want Running with both running", got.Status.Phase,
			got.Status.InitContainerStatuses[0].State, got.Status.ContainerStatuses[0].State)
	}
}

// status.podIP and status.hostIP references resolve to the sandbox's addresses
// before the API has them, as kubelet resolves them.
func TestDownwardAddressesBeforeStatus(t *testing.T) {
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}}}, nil, "")
	q := withAddresses(p, at)
	if q.Status.PodIP != at.PodIP || q.Status.HostIPs[0].IP != at.HostIP || p.Status.PodIP != "" {
		t.Errorf("with addresses: %+v (pod as read: %+v); want the sandbox's, the read pod untouched", q.Status, p.Status)
	}
}
