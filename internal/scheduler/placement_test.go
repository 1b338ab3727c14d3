package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fargo-dev/fargo/internal/sizing"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func host(name string, milliCPU, memMiB, slots int64, beat time.Time) v1alpha1.Host {
	h := v1alpha1.Host{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.HostSpec{Capacity: v1alpha1.HostCapacity{MilliCPU: milliCPU, MemoryMiB: memMiB, Sandboxes: slots}}}
	if !beat.IsZero() {
		h.Status.HeartbeatTime = &metav1.Time{Time: beat}
	}
	return h
}

func on(hostName string, s sizing.Size) *v1alpha1.Sandbox {
	return &v1alpha1.Sandbox{Spec: v1alpha1.SandboxSpec{Host: hostName, MilliCPU: s.MilliCPU, MemoryMiB: s.MemoryMiB}}
}

func TestPickHost(t *testing.T) {
	now := time.Now()
	small := sizing.Size{MilliCPU: 250, MemoryMiB: 512}
	big := sizing.Size{MilliCPU: 2000, MemoryMiB: 4096}
	hosts := []v1alpha1.Host{host("a", 4000, 8192, 0, now), host("b", 4000, 8192, 0, now)}
	held := []*v1alpha1.Sandbox{on("a", small)}
	for _, tc := range []struct {
		p    Placement
		want string
	}{{Spread, "b"}, {BinPack, "a"}} {
		got, err := pickHost(rooms(hosts, held, now, time.Minute), small, tc.p)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.p, got, err, tc.want)
		}
	}
	// Full on CPU, a sandbox cap, a silent host, a drained host: each said.
	hosts = []v1alpha1.Host{host("a", 2000, 8192, 0, now), host("b", 8000, 8192, 1, now), host("c", 8000, 8192, 0, now.Add(-time.Hour)),
		host("d", 8000, 8192, 0, time.Time{}), host("e", 8000, 8192, 0, now)}
	hosts[4].Spec.Unschedulable = true
	held = []*v1alpha1.Sandbox{on("a", small), on("b", small), {Spec: v1alpha1.SandboxSpec{Host: "gone", MilliCPU: 1}}}
	_, err := pickHost(rooms(hosts, held, now, time.Minute), big, Spread)
	if !errors.Is(err, errNoRoom) {
		t.Fatalf("got %v, want errNoRoom", err)
	}
	for _, want := range []string{"no host has room for 2vCPU 4GB: 0/5 hosts fit: a: 1.75 vCPU and 7680 MiB free", "b: sandbox limit reached",
		"c: no heartbeat since " + now.Add(-time.Hour).UTC().Format(time.RFC3339), "d: no heartbeat yet", "e: unschedulable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := pickHost(nil, small, Spread); err == nil || !strings.Contains(err.Error(), "no host is registered") {
		t.Errorf("no hosts: %v", err)
	}
	if _, err := ParsePlacement("tight"); err == nil {
		t.Error("ParsePlacement accepted tight")
	}
}

// A stopped sandbox (its pod finished) holds its IP, not its host's capacity.
func TestStoppedSandboxFreesItsRoom(t *testing.T) {
	now := time.Now()
	big := sizing.Size{MilliCPU: 2000, MemoryMiB: 4096}
	hosts := []v1alpha1.Host{host("a", 2000, 4096, 1, now)}
	finished := on("a", big)
	if _, err := pickHost(rooms(hosts, []*v1alpha1.Sandbox{finished}, now, time.Minute), big, Spread); !errors.Is(err, errNoRoom) {
		t.Fatalf("a running sandbox the host's size: %v, want no room", err)
	}
	finished.Status.Conditions = []metav1.Condition{{Type: v1alpha1.SandboxStopped, Status: metav1.ConditionTrue}}
	if got, err := pickHost(rooms(hosts, []*v1alpha1.Sandbox{finished}, now, time.Minute), big, Spread); err != nil || got != "a" {
		t.Errorf("the sandbox stopped: %q, %v; want host a", got, err)
	}
}

func TestBackoff(t *testing.T) {
	var r retries
	pod := podKey(&v1alpha1.Sandbox{Spec: v1alpha1.SandboxSpec{Pod: v1alpha1.PodReference{Namespace: "n", Name: "p"}}})
	var got []time.Duration
	for range 10 {
		got = append(got, r.next(pod, true))
	}
	if got[0] != backoffBase || got[1] != 2*backoffBase || got[9] != backoffMax {
		t.Errorf("back-off %v", got)
	}
	if h := r.hungry(); len(h) != 1 || h[0] != pod {
		t.Errorf("hungry = %v", h)
	}
	r.forget(pod)
	if r.next(pod, false) != backoffBase || len(r.hungry()) != 0 {
		t.Error("forget did not reset the pod")
	}
}

// A profile's tier goes to a host that offers it; one without says so.
func TestPlacementByIsolation(t *testing.T) {
	now := time.Now()
	small := sizing.Size{MilliCPU: 250, MemoryMiB: 512}
	plain, vm := host("plain", 8000, 16384, 0, now), host("vm", 4000, 8192, 0, now)
	vm.Spec.Isolations = []string{v1alpha1.IsolationContainer, v1alpha1.IsolationMicroVM}
	hosts := []v1alpha1.Host{plain, vm}
	if got, err := pickHost(offering(rooms(hosts, nil, now, time.Minute), v1alpha1.IsolationMicroVM), small, Spread); err != nil || got != "vm" {
		t.Errorf("microvm: %q, %v; want host vm (plain, with more room, runs none)", got, err)
	}
	if got, err := pickHost(offering(rooms(hosts, nil, now, time.Minute), ""), small, Spread); err != nil || got != "plain" {
		t.Errorf("no tier asked: %q, %v; want plain, the emptier", got, err)
	}
	_, err := pickHost(offering(rooms(hosts[:1], nil, now, time.Minute), v1alpha1.IsolationMicroVM), small, Spread)
	if !errors.Is(err, errNoRoom) || !strings.Contains(err.Error(), "plain: runs no microvm sandboxes (container only)") {
		t.Errorf("microvm on a container-only host: %v", err)
	}
}
