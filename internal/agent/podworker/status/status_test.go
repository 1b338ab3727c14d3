package status

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/internal/runtime"
)

func TestPhase(t *testing.T) {
	c := &corev1.Container{Name: "c", Image: "i"}
	now := time.Now()
	running := Container(c, &runtime.ContainerStatus{State: runtime.StateRunning, Started: now}, "", "")
	ok := Container(c, &runtime.ContainerStatus{State: runtime.StateExited, Reason: runtime.ReasonCompleted, Finished: now}, "", "")
	bad := Container(c, &runtime.ContainerStatus{State: runtime.StateExited, ExitCode: 1, Reason: runtime.ReasonError, Finished: now}, "", "")
	looping := Container(c, &runtime.ContainerStatus{State: runtime.StateExited, ExitCode: 1, Finished: now}, "CrashLoopBackOff", "")
	creating := Container(c, nil, "", "")
	for _, tc := range []struct {
		name     string
		initDone bool
		st       []corev1.ContainerStatus
		want     corev1.PodPhase
	}{
		{"init running", false, []corev1.ContainerStatus{creating}, corev1.PodPending},
		{"creating", true, []corev1.ContainerStatus{creating}, corev1.PodPending},
		{"running", true, []corev1.ContainerStatus{running, ok}, corev1.PodRunning},
		{"crash loop", true, []corev1.ContainerStatus{looping}, corev1.PodRunning},
		{"all succeeded", true, []corev1.ContainerStatus{ok, ok}, corev1.PodSucceeded},
		{"one failed", true, []corev1.ContainerStatus{ok, bad}, corev1.PodFailed},
	} {
		if got := Phase(nil, tc.initDone, tc.st); got != tc.want {
			t.Errorf("%s: phase %s, want %s", tc.name, got, tc.want)
		}
	}
	if looping.LastTerminationState.Terminated == nil || looping.State.Waiting.Reason != "CrashLoopBackOff" {
		t.Errorf("crash-looping status %+v", looping)
	}
	if running.Started == nil || !*running.Started || !running.Ready {
		t.Errorf("running status %+v", running)
	}
}

func TestRestartDelay(t *testing.T) {
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for attempt, w := range want {
		if got := RestartDelay(attempt); got != w {
			t.Errorf("RestartDelay(%d) = %s, want %s", attempt, got, w)
		}
	}
}
