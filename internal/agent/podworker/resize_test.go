package podworker

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/runtime"
)

func requirements(cpuReq, cpuLim, memReq, memLim string) corev1.ResourceRequirements {
	var r corev1.ResourceRequirements
	set := func(l *corev1.ResourceList, name corev1.ResourceName, v string) {
		if v == "" {
			return
		}
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = resource.MustParse(v)
	}
	set(&r.Requests, corev1.ResourceCPU, cpuReq)
	set(&r.Limits, corev1.ResourceCPU, cpuLim)
	set(&r.Requests, corev1.ResourceMemory, memReq)
	set(&r.Limits, corev1.ResourceMemory, memLim)
	return r
}

// resizeTo changes the stored pod's first container's resources as the
// resize subresource does (a new generation).
func (s *suite) resizeTo(key client.ObjectKey, r corev1.ResourceRequirements) {
	s.t.Helper()
	pod := &corev1.Pod{}
	if err := s.c.Get(context.Background(), key, pod); err != nil {
		s.t.Fatal(err)
	}
	pod.Spec.Containers[0].Resources = r
	pod.Generation++
	if err := s.c.Update(context.Background(), pod); err != nil {
		s.t.Fatal(err)
	}
}

func (s *suite) container(name string) runtime.ContainerStatus {
	s.t.Helper()
	list, err := s.rt.Containers(context.Background(), at.SandboxID)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, c := range list {
		if c.Name == name {
			return c
		}
	}
	s.t.Fatalf("no container %s", name)
	return runtime.ContainerStatus{}
}

// checkResources: the container's cgroup settings and its status are r's.
func (s *suite) checkResources(pod *corev1.Pod, r corev1.ResourceRequirements, cgroup runtime.Resources) {
	s.t.Helper()
	if got := s.container("app").Resources; got != cgroup {
		s.t.Errorf("container's cgroup settings %+v; want %+v", got, cgroup)
	}
	cs := pod.Status.ContainerStatuses[0]
	if cs.Resources == nil || !equality.Semantic.DeepEqual(*cs.Resources, r) || !equality.Semantic.DeepEqual(cs.AllocatedResources, r.Requests) {
		s.t.Errorf("status resources %+v, allocated %v; want %+v", cs.Resources, cs.AllocatedResources, r)
	}
}

func resizeCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodResizePending || c.Type == corev1.PodResizeInProgress {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// A container gets kubelet's cgroup settings for its resources, and a resize
// changes them in place: same container, no restart, the status following.
func TestResizeInPlace(t *testing.T) {
	first := requirements("20m", "30m", "35Mi", "45Mi")
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}, Resources: first}}, nil, corev1.RestartPolicyAlways)
	p.Generation = 1
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	got, _ := s.sync(key)
	s.checkResources(got, first, runtime.Resources{CPUShares: 20, CPUQuota: 3000, CPUPeriod: 100000, MemoryLimit: 45 << 20})
	id := s.container("app").ID

	second := requirements("25m", "", "40Mi", "50Mi") // the CPU limit lifted
	s.resizeTo(key, second)
	got, _ = s.sync(key)
	s.checkResources(got, second, runtime.Resources{CPUShares: 25, MemoryLimit: 50 << 20})
	if c := s.container("app"); c.ID != id || c.Attempt != 0 {
		t.Errorf("container %s attempt %d after an in-place resize; want %s still, not restarted", c.ID, c.Attempt, id)
	}
	if c := resizeCondition(got); c != nil || got.Status.ObservedGeneration != 2 {
		t.Errorf("after the resize: condition %+v, observedGeneration %d; want none, 2", c, got.Status.ObservedGeneration)
	}
	if ev := drain(s); !strings.Contains(ev, "ResizeCompleted") {
		t.Errorf("events %q; want ResizeCompleted", ev)
	}
}

// resizePolicy RestartContainer for a changed resource restarts the container
// with the new settings, whatever the pod's restart policy.
func TestResizeRestartsContainer(t *testing.T) {
	first := requirements("20m", "", "35Mi", "45Mi")
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}, Resources: first,
		ResizePolicy: []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer}}}},
		nil, corev1.RestartPolicyNever)
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	s.sync(key)
	second := requirements("20m", "", "40Mi", "50Mi")
	s.resizeTo(key, second)
	got, _ := s.sync(key)
	if c := s.container("app"); c.Attempt != 1 || c.State != runtime.StateRunning {
		t.Fatalf("container attempt %d %s; want attempt 1 running", c.Attempt, c.State)
	}
	s.checkResources(got, second, runtime.Resources{CPUShares: 20, MemoryLimit: 50 << 20})
	if n := got.Status.ContainerStatuses[0].RestartCount; n != 1 {
		t.Errorf("restartCount %d; want 1", n)
	}
	// A CPU change alone (NotRequired by default) does not restart it.
	third := requirements("25m", "", "40Mi", "50Mi")
	s.resizeTo(key, third)
	s.sync(key)
	if c := s.container("app"); c.Attempt != 1 {
		t.Errorf("a CPU-only resize restarted the container (attempt %d)", c.Attempt)
	}
}

// A resize past the node (on Fargate, the provisioned size) is Infeasible:
// nothing changes and the pod says why; resizing back clears it.
func TestResizeInfeasible(t *testing.T) {
	first := requirements("100m", "", "64Mi", "")
	p := pod([]corev1.Container{{Name: "app", Image: "img", Command: []string{"sleep"}, Resources: first}}, nil, corev1.RestartPolicyAlways)
	s := newSuite(t, p)
	key := client.ObjectKeyFromObject(p)
	s.sync(key)
	s.resizeTo(key, requirements("1", "", "64Mi", ""))
	got, _ := s.sync(key)
	c := resizeCondition(got)
	if c == nil || c.Type != corev1.PodResizePending || c.Reason != corev1.PodReasonInfeasible ||
		!strings.Contains(c.Message, "cpu, requested: 1000, used: 0, capacity: 250") {
		t.Fatalf("condition %+v; want PodResizePending Infeasible naming cpu 1000 of 250", c)
	}
	s.checkResources(got, first, runtime.Resources{CPUShares: 102})
	if ev := drain(s); !strings.Contains(ev, "Warning ResizeInfeasible") {
		t.Errorf("events %q; want ResizeInfeasible", ev)
	}
	s.sync(key)
	if ev := drain(s); strings.Contains(ev, "ResizeInfeasible") {
		t.Errorf("the same infeasible resize reported again: %q", ev)
	}
	s.resizeTo(key, first)
	if got, _ = s.sync(key); resizeCondition(got) != nil {
		t.Errorf("condition %+v left after resizing back", resizeCondition(got))
	}
}

// drain returns the events recorded so far, one per line.
func drain(s *suite) string {
	var out []string
	for {
		select {
		case e := <-s.events.Events:
			out = append(out, e)
		default:
			return strings.Join(out, "\n")
		}
	}
}
