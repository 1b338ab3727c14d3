package agent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// resync is how often a sandbox with live containers is looked at again, to notice
// exits and restarts.
const resync = 2 * time.Second

// syncPod drives the pod's containers toward its spec, as kubelet's pod worker
// does: images, init containers in order, then the regular containers with the
// restart policy; then writes the pod's status. It returns when to look again.
func (a *Agent) syncPod(ctx context.Context, pod *corev1.Pod, sb *v1alpha1.Sandbox) (time.Duration, error) {
	if pod.DeletionTimestamp != nil {
		return a.terminatePod(ctx, pod, sb)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, nil
	}
	current, err := a.cfg.Runtime.Containers(ctx, sb.Name)
	if err != nil {
		return 0, fmt.Errorf("listing containers of sandbox %s: %w", sb.Name, err)
	}
	byName := map[string]*runtime.ContainerStatus{}
	for i := range current {
		byName[current[i].Name] = &current[i]
	}
	status := pod.Status.DeepCopy()
	if err := a.prepareVolumes(ctx, pod); err != nil {
		a.event(pod, corev1.EventTypeWarning, "FailedMount", "%v", err)
		return resync * 5, nil
	}
	initDone, initStatuses, err := a.syncInit(ctx, pod, sb, byName)
	if err != nil {
		return 0, err
	}
	var statuses []corev1.ContainerStatus
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if !initDone {
			statuses = append(statuses, containerStatus(c, nil, "PodInitializing", ""))
			continue
		}
		statuses = append(statuses, a.syncContainer(ctx, pod, sb, c, byName[c.Name], restarts(pod.Spec.RestartPolicy)))
	}
	status.InitContainerStatuses, status.ContainerStatuses = initStatuses, statuses
	status.Phase = phase(&pod.Spec, initDone, statuses)
	if initDone && failedInit(initStatuses) {
		status.Phase = corev1.PodFailed
	}
	a.fillStatus(status, sb, initDone)
	if err := a.writeStatus(ctx, pod, status); err != nil {
		return 0, err
	}
	if status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed {
		return 0, nil
	}
	return resync, nil
}

// syncInit runs init containers one at a time; done once all have succeeded.
func (a *Agent) syncInit(ctx context.Context, pod *corev1.Pod, sb *v1alpha1.Sandbox, byName map[string]*runtime.ContainerStatus) (bool, []corev1.ContainerStatus, error) {
	var out []corev1.ContainerStatus
	done := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if !done {
			out = append(out, containerStatus(c, nil, "PodInitializing", ""))
			continue
		}
		st := byName[c.Name]
		if st != nil && st.State == runtime.StateExited && st.ExitCode == 0 {
			out = append(out, containerStatus(c, st, "", ""))
			continue
		}
		done = false
		// An init container that fails is retried unless the pod never restarts.
		policy := corev1.RestartPolicyOnFailure
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			policy = corev1.RestartPolicyNever
		}
		cs := a.syncContainer(ctx, pod, sb, c, st, policy)
		out = append(out, cs)
		if cs.State.Terminated != nil { // failed for good
			return true, out, nil
		}
	}
	return done, out, nil
}

func failedInit(statuses []corev1.ContainerStatus) bool {
	for _, s := range statuses {
		if s.State.Terminated != nil && s.State.Terminated.ExitCode != 0 {
			return true
		}
	}
	return false
}

func restarts(p corev1.RestartPolicy) corev1.RestartPolicy {
	if p == "" {
		return corev1.RestartPolicyAlways
	}
	return p
}

// syncContainer starts c if it has not run, restarts it per policy with kubelet's
// back-off, and returns its API status.
func (a *Agent) syncContainer(ctx context.Context, pod *corev1.Pod, sb *v1alpha1.Sandbox, c *corev1.Container, st *runtime.ContainerStatus, policy corev1.RestartPolicy) corev1.ContainerStatus {
	attempt := 0
	if st != nil {
		if st.State != runtime.StateExited {
			return containerStatus(c, st, "", "")
		}
		if cs, hold := exited(pod, c, st, policy); hold {
			return cs
		}
		attempt = st.Attempt + 1
	}
	img, err := a.cfg.Runtime.PullImage(ctx, c.Image, pullPolicy(c), nil)
	if err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		return containerStatus(c, st, "ErrImagePull", err.Error())
	}
	if img.Pulled {
		a.event(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q", c.Image)
	}
	spec := runtimeContainer(c, attempt)
	spec.Mounts = a.mounts(pod, c)
	if spec.Env, err = a.env(ctx, pod, c); err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return containerStatus(c, st, "CreateContainerConfigError", err.Error())
	}
	started, err := a.cfg.Runtime.StartContainer(ctx, sb.Name, spec)
	if err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return containerStatus(c, st, "CreateContainerError", err.Error())
	}
	a.event(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if started.State == runtime.StateExited { // died at once
		cs, _ := exited(pod, c, &started, policy)
		return cs
	}
	return containerStatus(c, &started, "", "")
}

// exited is the status of an exited container and whether it stays so for now:
// for good under its restart policy, or in CrashLoopBackOff until its back-off
// has passed.
func exited(pod *corev1.Pod, c *corev1.Container, st *runtime.ContainerStatus, policy corev1.RestartPolicy) (corev1.ContainerStatus, bool) {
	if policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && st.ExitCode == 0) {
		return containerStatus(c, st, "", ""), true
	}
	delay := restartDelay(st.Attempt)
	if time.Until(st.Finished.Add(delay)) > 0 {
		return containerStatus(c, st, "CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s", delay, c.Name, pod.Name, pod.Namespace)), true
	}
	return corev1.ContainerStatus{}, false
}

func pullPolicy(c *corev1.Container) runtime.PullPolicy {
	switch c.ImagePullPolicy {
	case corev1.PullAlways:
		return runtime.PullAlways
	case corev1.PullNever:
		return runtime.PullNever
	}
	return runtime.PullIfNotPresent
}

// runtimeContainer is what the runtime needs of a container spec.
func runtimeContainer(c *corev1.Container, attempt int) runtime.Container {
	out := runtime.Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir,
		TTY: c.TTY, Stdin: c.Stdin, Attempt: attempt}
	if sc := c.SecurityContext; sc != nil {
		out.User, out.Group = sc.RunAsUser, sc.RunAsGroup
		out.ReadOnlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	}
	return out
}

// fillStatus sets what does not depend on containers: addresses, start time and
// conditions.
func (a *Agent) fillStatus(status *corev1.PodStatus, sb *v1alpha1.Sandbox, initDone bool) {
	status.HostIP, status.PodIP = sb.Spec.IP, sb.Spec.IP
	status.HostIPs, status.PodIPs = []corev1.HostIP{{IP: sb.Spec.IP}}, []corev1.PodIP{{IP: sb.Spec.IP}}
	if status.StartTime == nil {
		now := metav1.Now()
		status.StartTime = &now
	}
	ready := status.Phase == corev1.PodRunning
	for _, s := range status.ContainerStatuses {
		ready = ready && s.Ready
	}
	setCondition(status, corev1.PodReadyToStartContainers, true, "")
	setCondition(status, corev1.PodInitialized, initDone, "ContainersNotInitialized")
	setCondition(status, corev1.ContainersReady, ready, "ContainersNotReady")
	setCondition(status, corev1.PodReady, ready, "ContainersNotReady")
}

// writeStatus updates the pod's status when it changed.
func (a *Agent) writeStatus(ctx context.Context, pod *corev1.Pod, status *corev1.PodStatus) error {
	if equality.Semantic.DeepEqual(&pod.Status, status) {
		return nil
	}
	updated := pod.DeepCopy()
	updated.Status = *status
	if err := a.client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("updating status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// terminatePod stops the containers within the pod's grace period and, once all
// have exited, deletes the pod for good, as kubelet confirms a graceful delete.
func (a *Agent) terminatePod(ctx context.Context, pod *corev1.Pod, sb *v1alpha1.Sandbox) (time.Duration, error) {
	grace := 30 * time.Second
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	current, err := a.cfg.Runtime.Containers(ctx, sb.Name)
	if err != nil && !isNotFound(err) {
		return 0, fmt.Errorf("listing containers of sandbox %s: %w", sb.Name, err)
	}
	for _, st := range current {
		if st.State == runtime.StateRunning {
			if err := a.cfg.Runtime.StopContainer(ctx, sb.Name, st.Name, grace); err != nil {
				return 0, fmt.Errorf("stopping container %s of pod %s/%s: %w", st.Name, pod.Namespace, pod.Name, err)
			}
			a.event(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", st.Name)
		}
	}
	err = a.client.Delete(ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &pod.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return 0, fmt.Errorf("confirming deletion of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return 0, nil
}
