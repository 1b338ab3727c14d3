package podworker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// terminate runs preStop hooks and stops the containers within the pod's grace
// period and, once all have exited, deletes the pod for good, as kubelet
// confirms a graceful delete.
func (a *Worker) terminate(ctx context.Context, pod *corev1.Pod, at Placement) error {
	// The apiserver set the deletion timestamp to the delete call plus the grace
	// period: the deadline for preStop hooks and SIGTERM.
	if err := a.stopAll(ctx, pod, at, pod.DeletionTimestamp.Time); err != nil {
		return err
	}
	err := a.cfg.Client.Delete(ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &pod.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("confirming deletion of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// stopAll ends the pod's probes, runs the preStop hooks and stops every running
// container by deadline (at least 2 s each, as kubelet gives).
func (a *Worker) stopAll(ctx context.Context, pod *corev1.Pod, at Placement, deadline time.Time) error {
	a.probes.Stop(pod.UID, "")
	current, err := a.cfg.Runtime.Containers(ctx, at.SandboxID)
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("listing containers of sandbox %s: %w", at.SandboxID, err)
	}
	var g errgroup.Group // containers stop together, each with the whole grace period
	for _, st := range current {
		if st.State != runtime.StateRunning {
			continue
		}
		g.Go(func() error {
			a.preStop(ctx, pod, at, st, deadline.Sub(a.cfg.Clock.Now()))
			// As kubelet: what preStop left of the grace period, at least 2 s.
			if err := a.cfg.Runtime.StopContainer(ctx, at.SandboxID, st.Name, max(deadline.Sub(a.cfg.Clock.Now()), 2*time.Second)); err != nil {
				return fmt.Errorf("stopping container %s of pod %s/%s: %w", st.Name, pod.Namespace, pod.Name, err)
			}
			a.preStopped.Delete(st.ID)
			a.event(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", st.Name)
			return nil
		})
	}
	return g.Wait()
}

// preStop runs a container's preStop hook once, within what is left of the
// grace period.
func (a *Worker) preStop(ctx context.Context, pod *corev1.Pod, at Placement, st runtime.ContainerStatus, left time.Duration) {
	c := specContainer(pod, st.Name)
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil || left <= 0 {
		return
	}
	if _, done := a.preStopped.LoadOrStore(st.ID, true); done {
		return
	}
	if err := a.handlers.Hook(ctx, target(pod, at, c, &st), c.Lifecycle.PreStop, left); err != nil {
		a.event(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
	}
}

func specContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return ephemeralContainer(&pod.Spec.EphemeralContainers[i])
		}
	}
	return nil
}
