package podworker

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/internal/agent/podworker/status"
	"github.com/fargo-dev/fargo/internal/runtime"
)

// Kubelet's words for a pod past its activeDeadlineSeconds.
const (
	reasonDeadline  = "DeadlineExceeded"
	messageDeadline = "Pod was active on the node longer than the specified deadline"
)

// activeLeft is how long the pod may still be active under its
// activeDeadlineSeconds, counted from its start time, as kubelet counts; ok
// is false when it has no deadline (or has not started).
func activeLeft(pod *corev1.Pod, now time.Time) (left time.Duration, ok bool) {
	if pod.Spec.ActiveDeadlineSeconds == nil || pod.Status.StartTime == nil {
		return 0, false
	}
	return pod.Status.StartTime.Add(time.Duration(*pod.Spec.ActiveDeadlineSeconds) * time.Second).Sub(now), true
}

// deadlineExceeded fails a pod past its deadline as kubelet does: its
// containers are stopped within its grace period and it is Failed with reason
// DeadlineExceeded.
func (a *Worker) deadlineExceeded(ctx context.Context, pod *corev1.Pod, at Placement) error {
	a.event(pod, corev1.EventTypeNormal, reasonDeadline, messageDeadline)
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if err := a.stopAll(ctx, pod, at, a.cfg.Clock.Now().Add(time.Duration(grace)*time.Second)); err != nil {
		return err
	}
	current, err := a.cfg.Runtime.Containers(ctx, at.SandboxID)
	if err != nil {
		return fmt.Errorf("listing containers of sandbox %s: %w", at.SandboxID, err)
	}
	byName := map[string]*runtime.ContainerStatus{}
	for i := range current {
		byName[current[i].Name] = &current[i]
	}
	st := pod.Status.DeepCopy()
	st.Phase, st.Reason, st.Message = corev1.PodFailed, reasonDeadline, messageDeadline
	report := func(list []corev1.Container) []corev1.ContainerStatus {
		out := make([]corev1.ContainerStatus, 0, len(list))
		for i := range list {
			out = append(out, status.Container(&list[i], byName[list[i].Name], "", ""))
		}
		return out
	}
	st.InitContainerStatuses, st.ContainerStatuses = report(pod.Spec.InitContainers), report(pod.Spec.Containers)
	a.addMessages(ctx, pod, at, st.InitContainerStatuses)
	a.addMessages(ctx, pod, at, st.ContainerStatuses)
	a.fillStatus(pod, st, at)
	return a.status.Write(ctx, pod, st)
}
