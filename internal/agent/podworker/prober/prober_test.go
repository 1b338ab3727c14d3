package prober

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/probe"
	"k8s.io/utils/clock"
)

// scripted answers each probe kind from a switchable result.
type scripted struct {
	mu      sync.Mutex
	results map[string]probe.Result // by the probe's exec command
	runs    map[string]int
}

func (s *scripted) run(_ context.Context, _ Target, spec *corev1.Probe) (probe.Result, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := spec.Exec.Command[0]
	s.runs[cmd]++
	return s.results[cmd], cmd
}

func (s *scripted) set(cmd string, r probe.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results[cmd] = r
}

func execProbe(cmd string, failures int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{cmd}}},
		PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: failures}
}

func waitState(t *testing.T, p *Prober, target Target, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := p.Sync(target)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: state %+v", what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProber(t *testing.T) {
	sc := &scripted{results: map[string]probe.Result{"startup": probe.Failure, "ready": probe.Success, "live": probe.Success}, runs: map[string]int{}}
	var failures []string
	var mu sync.Mutex
	p := New(context.Background(), clock.RealClock{}, sc.run, func(string) {}, func(_ Target, kind Kind, _ string) {
		mu.Lock()
		failures = append(failures, string(kind))
		mu.Unlock()
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1", Name: "p"}}
	c := &corev1.Container{Name: "c", StartupProbe: execProbe("startup", 100), ReadinessProbe: execProbe("ready", 1), LivenessProbe: execProbe("live", 2)}
	target := Target{Pod: pod, Container: c, Sandbox: "ip-1", ContainerID: "id-1", Started: time.Now()}
	defer p.Stop(pod.UID, "")

	// Until the startup probe succeeds: not started, not ready, liveness held.
	s := p.Sync(target)
	if s.Started || s.Ready || s.Failed != "" {
		t.Fatalf("before any probe: %+v, want not started, not ready", s)
	}
	time.Sleep(1500 * time.Millisecond)
	sc.mu.Lock()
	live := sc.runs["live"]
	sc.mu.Unlock()
	if live != 0 {
		t.Errorf("liveness probed %d times before the startup probe succeeded", live)
	}
	sc.set("startup", probe.Success)
	waitState(t, p, target, "started and ready", func(s State) bool { return s.Started && s.Ready })

	// Readiness follows its probe both ways.
	sc.set("ready", probe.Failure)
	waitState(t, p, target, "not ready", func(s State) bool { return s.Started && !s.Ready && s.Failed == "" })
	sc.set("ready", probe.Success)
	waitState(t, p, target, "ready again", func(s State) bool { return s.Ready })

	// Liveness fails after failureThreshold (2) failures in a row.
	sc.set("live", probe.Failure)
	waitState(t, p, target, "liveness failed", func(s State) bool { return s.Failed == Liveness })
	mu.Lock()
	n := 0
	for _, f := range failures {
		if f == string(Liveness) {
			n++
		}
	}
	mu.Unlock()
	if n < 2 {
		t.Errorf("%d Unhealthy reports for liveness, want 2", n)
	}

	// A new container starts over: not started until its own startup probe passes.
	sc.set("live", probe.Success)
	target.ContainerID = "id-2"
	if s := p.Sync(target); s.Started || s.Failed != "" {
		t.Errorf("new container: %+v, want fresh probes", s)
	}
	waitState(t, p, target, "new container started", func(s State) bool { return s.Started && s.Ready })
}
