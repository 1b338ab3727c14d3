package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
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
	if err := a.prepareVolumes(ctx, pod, sb.Spec.IP); err != nil {
		a.event(pod, corev1.EventTypeWarning, "FailedMount", "%v", err)
		return resync * 5, nil
	}
	initDone, initStatuses, err := a.syncInit(ctx, pod, sb, byName)
	if err != nil {
		return 0, err
	}
	initFailed := initDone && failedInit(initStatuses)
	var statuses []corev1.ContainerStatus
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if !initDone || initFailed { // app containers never start after a failed init
			statuses = append(statuses, containerStatus(c, nil, "PodInitializing", ""))
			continue
		}
		statuses = append(statuses, a.syncContainer(ctx, pod, sb, c, byName[c.Name], restarts(pod.Spec.RestartPolicy)))
	}
	status.InitContainerStatuses, status.ContainerStatuses = initStatuses, statuses
	status.Phase = phase(&pod.Spec, initDone, statuses)
	if initFailed {
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
			cs := containerStatus(c, st, "", "")
			if st.State == runtime.StateRunning {
				a.applyProbes(pod, sb, c, st, &cs)
			}
			return cs
		}
		a.probes.stop(pod.UID, c.Name)
		if cs, hold := exited(pod, c, st, policy); hold {
			return cs
		}
		attempt = st.Attempt + 1
	}
	img, err := a.pullImage(ctx, pod, c)
	if err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		return containerStatus(c, st, "ErrImagePull", err.Error())
	}
	if img.Pulled {
		a.event(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q", c.Image)
	}
	spec := runtimeContainer(pod, c, attempt)
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
	if started.State == runtime.StateRunning && c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		t := target(pod, sb, c, &started)
		if err := a.runHook(ctx, t, c.Lifecycle.PostStart, terminationGrace(pod)); err != nil {
			a.event(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			a.kill(t, terminationGrace(pod))
		}
	}
	if started.State == runtime.StateExited { // died at once
		cs, _ := exited(pod, c, &started, policy)
		return cs
	}
	cs := containerStatus(c, &started, "", "")
	a.applyProbes(pod, sb, c, &started, &cs)
	return cs
}

// pullImage pulls c's image per its pull policy with the pod's pull secrets.
func (a *Agent) pullImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (runtime.Image, error) {
	auth, err := a.pullAuth(ctx, pod, c.Image)
	if err != nil {
		return runtime.Image{}, err
	}
	return a.cfg.Runtime.PullImage(ctx, c.Image, pullPolicy(c), auth)
}

// target is container c's current run, for probes and hooks.
func target(pod *corev1.Pod, sb *v1alpha1.Sandbox, c *corev1.Container, st *runtime.ContainerStatus) probeTarget {
	return probeTarget{pod: pod, container: c, sandbox: sb.Name, podIP: sb.Spec.IP, containerID: st.ID, started: st.Started}
}

// applyProbes sets a running container's started and ready fields from its
// probes and kills it when its liveness or startup probe has failed.
func (a *Agent) applyProbes(pod *corev1.Pod, sb *v1alpha1.Sandbox, c *corev1.Container, st *runtime.ContainerStatus, cs *corev1.ContainerStatus) {
	t := target(pod, sb, c, st)
	s := a.probes.sync(t)
	cs.Started, cs.Ready = ptrBool(s.started), s.ready
	if s.failed == "" {
		return
	}
	grace := terminationGrace(pod)
	spec := c.LivenessProbe
	if s.failed == startup {
		spec = c.StartupProbe
	}
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	if _, busy := a.killing.Load(st.ID); !busy {
		a.event(pod, corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", c.Name, strings.ToLower(string(s.failed)))
	}
	a.kill(t, grace)
}

// kill stops a container in the background (it may take its grace period) and
// wakes the sandbox when it has exited; the restart policy takes it from there.
func (a *Agent) kill(t probeTarget, grace time.Duration) {
	if _, busy := a.killing.LoadOrStore(t.containerID, true); busy {
		return
	}
	go func() {
		defer a.killing.Delete(t.containerID)
		if err := a.cfg.Runtime.StopContainer(context.Background(), t.sandbox, t.container.Name, grace); err != nil {
			a.event(t.pod, corev1.EventTypeWarning, "FailedKillPod", "error killing container %s: %v", t.container.Name, err)
		}
		a.wakeSandbox(t.sandbox)
	}()
}

// terminationGrace is the pod's terminationGracePeriodSeconds (default 30 s).
func terminationGrace(pod *corev1.Pod) time.Duration {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
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

// runtimeContainer is what the runtime needs of a container spec: the container's
// securityContext over the pod's, with fsGroup and supplementalGroups as extra
// groups.
func runtimeContainer(pod *corev1.Pod, c *corev1.Container, attempt int) runtime.Container {
	out := runtime.Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir,
		TTY: c.TTY, Stdin: c.Stdin, Attempt: attempt}
	if psc := pod.Spec.SecurityContext; psc != nil {
		out.User, out.Group = psc.RunAsUser, psc.RunAsGroup
		if psc.FSGroup != nil {
			out.SupplementalGroups = append(out.SupplementalGroups, *psc.FSGroup)
		}
		out.SupplementalGroups = append(out.SupplementalGroups, psc.SupplementalGroups...)
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			out.User = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			out.Group = sc.RunAsGroup
		}
		out.ReadOnlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Drop {
				out.DropCapabilities = append(out.DropCapabilities, string(c))
			}
		}
	}
	out.NonRoot = runAsNonRoot(pod, c)
	return out
}

// runAsNonRoot is the container's runAsNonRoot, else the pod's.
func runAsNonRoot(pod *corev1.Pod, c *corev1.Container) bool {
	if sc := c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		return *sc.RunAsNonRoot
	}
	psc := pod.Spec.SecurityContext
	return psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
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

// terminatePod runs preStop hooks and stops the containers within the pod's
// grace period and, once all have exited, deletes the pod for good, as kubelet
// confirms a graceful delete.
func (a *Agent) terminatePod(ctx context.Context, pod *corev1.Pod, sb *v1alpha1.Sandbox) (time.Duration, error) {
	// The apiserver set the deletion timestamp to the delete call plus the grace
	// period: the deadline for preStop hooks and SIGTERM.
	deadline := pod.DeletionTimestamp.Time
	a.probes.stop(pod.UID, "")
	current, err := a.cfg.Runtime.Containers(ctx, sb.Name)
	if err != nil && !isNotFound(err) {
		return 0, fmt.Errorf("listing containers of sandbox %s: %w", sb.Name, err)
	}
	var g errgroup.Group // containers stop together, each with the whole grace period
	for _, st := range current {
		if st.State != runtime.StateRunning {
			continue
		}
		g.Go(func() error {
			a.preStop(ctx, pod, sb, st, time.Until(deadline))
			// As kubelet: what preStop left of the grace period, at least 2 s.
			if err := a.cfg.Runtime.StopContainer(ctx, sb.Name, st.Name, max(time.Until(deadline), 2*time.Second)); err != nil {
				return fmt.Errorf("stopping container %s of pod %s/%s: %w", st.Name, pod.Namespace, pod.Name, err)
			}
			a.preStopped.Delete(st.ID)
			a.event(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", st.Name)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	err = a.client.Delete(ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &pod.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return 0, fmt.Errorf("confirming deletion of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return 0, nil
}

// preStop runs a container's preStop hook once, within what is left of the
// grace period.
func (a *Agent) preStop(ctx context.Context, pod *corev1.Pod, sb *v1alpha1.Sandbox, st runtime.ContainerStatus, left time.Duration) {
	c := specContainer(pod, st.Name)
	if c == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil || left <= 0 {
		return
	}
	if _, done := a.preStopped.LoadOrStore(st.ID, true); done {
		return
	}
	if err := a.runHook(ctx, target(pod, sb, c, &st), c.Lifecycle.PreStop, left); err != nil {
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
	return nil
}
