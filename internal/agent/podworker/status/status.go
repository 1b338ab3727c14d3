// Package status is the API view of a pod the agent runs: container statuses
// from what the runtime reports, phase and conditions as kubelet derives them,
// and the one writer of pod status.
package status

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/agent/podworker/resources"
	"github.com/fargo-dev/fargo/internal/runtime"
)

// Container is the API view of what the runtime reports for c; waiting is
// the reason a container is not running yet (ContainerCreating, CrashLoopBackOff…).
func Container(c *corev1.Container, st *runtime.ContainerStatus, waiting, message string) corev1.ContainerStatus {
	out := state(c, st, waiting, message)
	setResources(&out, c, st)
	return out
}

// state is the container's status but its resources.
func state(c *corev1.Container, st *runtime.ContainerStatus, waiting, message string) corev1.ContainerStatus {
	out := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: ptr.To(false)}
	if st == nil {
		out.State.Waiting = &corev1.ContainerStateWaiting{Reason: orDefault(waiting, "ContainerCreating"), Message: message}
		return out
	}
	out.ImageID, out.ContainerID, out.RestartCount = st.ImageID, st.ID, int32(st.Attempt)
	switch st.State {
	case runtime.StateRunning:
		out.State.Running = &corev1.ContainerStateRunning{StartedAt: Time(st.Started)}
		out.Ready, out.Started = true, ptr.To(true)
	case runtime.StateExited:
		term := &corev1.ContainerStateTerminated{ExitCode: st.ExitCode, Reason: st.Reason, ContainerID: st.ID,
			StartedAt: Time(st.Started), FinishedAt: Time(st.Finished)}
		if waiting != "" { // about to be restarted
			out.LastTerminationState.Terminated = term
			out.State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting, Message: message}
		} else {
			out.State.Terminated = term
		}
	default:
		out.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	return out
}

// setResources reports what the container was given (allocatedResources) and,
// while it runs, what is in force (resources), as kubelet does; the two are
// one here, as the pod worker resizes a container at once or not at all.
func setResources(out *corev1.ContainerStatus, c *corev1.Container, st *runtime.ContainerStatus) {
	given := resources.Of(c) // not started yet, or before fargo recorded it
	if st != nil {
		if actuated, ok := resources.Actuated(st); ok {
			given = actuated
		}
	}
	out.AllocatedResources = given.Requests
	if out.State.Running != nil && (given.Requests != nil || given.Limits != nil) {
		out.Resources = &given
	}
}

// Time is t as the API keeps it (whole seconds). A status built with finer
// times never equals the one read back, and each sync would write it again.
func Time(t time.Time) metav1.Time {
	return metav1.NewTime(t).Rfc3339Copy()
}

// SetCondition sets a pod condition as c says, keeping its transition time
// when the status did not change (now otherwise).
func SetCondition(status *corev1.PodStatus, c corev1.PodCondition, now metav1.Time) {
	for i := range status.Conditions {
		if old := &status.Conditions[i]; old.Type == c.Type {
			c.LastTransitionTime = old.LastTransitionTime
			if old.Status != c.Status {
				c.LastTransitionTime = now
			}
			c.LastProbeTime = old.LastProbeTime
			*old = c
			return
		}
	}
	c.LastTransitionTime = now
	status.Conditions = append(status.Conditions, c)
}

// Phase derives the pod phase from its containers, as kubelet does.
func Phase(spec *corev1.PodSpec, initDone bool, statuses []corev1.ContainerStatus) corev1.PodPhase {
	if !initDone {
		return corev1.PodPending
	}
	running, waiting, succeeded, failed := 0, 0, 0, 0
	for _, s := range statuses {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil && s.State.Terminated.ExitCode == 0:
			succeeded++
		case s.State.Terminated != nil:
			failed++
		case s.LastTerminationState.Terminated != nil:
			running++ // restarting: still a running pod
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0 && running == 0 && succeeded+failed == 0:
		return corev1.PodPending
	case running > 0 || waiting > 0:
		return corev1.PodRunning
	case failed > 0:
		return corev1.PodFailed
	}
	return corev1.PodSucceeded
}

// RestartDelay is kubelet's crash-loop back-off after the attempt-th restart:
// 10 s doubling to 5 min.
func RestartDelay(attempt int) time.Duration {
	return min(10*time.Second<<min(attempt, 6), 5*time.Minute)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Writer is the one writer of the status of the pods an agent runs.
type Writer struct {
	Client client.Client
}

// Write updates the pod's status when it changed.
func (w *Writer) Write(ctx context.Context, pod *corev1.Pod, status *corev1.PodStatus) error {
	if equality.Semantic.DeepEqual(&pod.Status, status) {
		return nil
	}
	updated := pod.DeepCopy()
	updated.Status = *status
	if err := w.Client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("updating status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
