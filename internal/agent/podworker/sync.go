package podworker

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	kubecontainer "k8s.io/kubernetes/pkg/kubelet/container"
	"k8s.io/utils/ptr"

	"github.com/fargo-dev/fargo/internal/agent/podworker/envvars"
	"github.com/fargo-dev/fargo/internal/agent/podworker/prober"
	"github.com/fargo-dev/fargo/internal/agent/podworker/resources"
	"github.com/fargo-dev/fargo/internal/agent/podworker/status"
	"github.com/fargo-dev/fargo/internal/runtime"
)

// resync is how soon a pod with a container on its way (being created, waiting
// for an image, crash-looping) is looked at again; pods whose containers are all
// settled wait for the host's relist of the runtime or a probe change instead.
const resync = 2 * time.Second

// refresh is how often a settled pod is synced anyway: its volumes' contents
// follow their sources about once a minute, as under kubelet.
const refresh = time.Minute

// Sync drives the pod's containers toward its spec, as kubelet's pod worker
// does: images, init containers in order, then the regular containers with the
// restart policy; then writes the pod's status. A pod being deleted is
// terminated. It returns when to look again (0: when something changes).
func (a *Worker) Sync(ctx context.Context, pod *corev1.Pod, at Placement) (time.Duration, error) {
	if pod.DeletionTimestamp != nil {
		return 0, a.terminate(ctx, pod, at)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, nil
	}
	left, deadline := activeLeft(pod, a.cfg.Clock.Now())
	if deadline && left <= 0 {
		return 0, a.deadlineExceeded(ctx, pod, at)
	}
	again, err := a.sync(ctx, pod, at)
	if secs := pod.Spec.ActiveDeadlineSeconds; secs != nil {
		if !deadline { // it started just now
			left = time.Duration(*secs) * time.Second
		}
		if again == 0 || again > left {
			again = left // look again when it is due
		}
	}
	return again, err
}

// sync is Sync for a pod that is neither being deleted nor finished, nor past
// its deadline.
func (a *Worker) sync(ctx context.Context, pod *corev1.Pod, at Placement) (time.Duration, error) {
	current, err := a.cfg.Runtime.Containers(ctx, at.SandboxID)
	if err != nil {
		return 0, fmt.Errorf("listing containers of sandbox %s: %w", at.SandboxID, err)
	}
	byName := containersByName(current)
	st := pod.Status.DeepCopy()
	if err := a.volumes.Prepare(ctx, withAddresses(pod, at), at.Allocatable); err != nil {
		a.event(pod, corev1.EventTypeWarning, "FailedMount", "%v", err)
		return resync * 5, nil
	}
	resizeCond, resized := a.resize(ctx, pod, at, byName)
	if resized { // what changed, as it is now
		if current, err = a.cfg.Runtime.Containers(ctx, at.SandboxID); err != nil {
			return 0, fmt.Errorf("listing containers of sandbox %s: %w", at.SandboxID, err)
		}
		byName = containersByName(current)
	}
	initDone, initStatuses, err := a.syncInit(ctx, pod, at, byName)
	if err != nil {
		return 0, err
	}
	initFailed := initDone && failedInit(initStatuses)
	var statuses []corev1.ContainerStatus
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if !initDone || initFailed { // app containers never start after a failed init
			statuses = append(statuses, status.Container(c, nil, "PodInitializing", ""))
			continue
		}
		statuses = append(statuses, a.syncContainer(ctx, pod, at, c, byName[c.Name], restarts(pod.Spec.RestartPolicy)))
	}
	ephemeral := a.syncEphemeral(ctx, pod, at, byName)
	a.addMessages(ctx, pod, at, initStatuses)
	a.addMessages(ctx, pod, at, statuses)
	a.addMessages(ctx, pod, at, ephemeral)
	st.InitContainerStatuses, st.ContainerStatuses, st.EphemeralContainerStatuses = initStatuses, statuses, ephemeral
	st.Phase = status.Phase(&pod.Spec, initDone, statuses)
	if initFailed {
		st.Phase = corev1.PodFailed
	}
	a.fillStatus(pod, st, at)
	setResizeCondition(st, resizeCond, status.Time(a.cfg.Clock.Now()))
	if err := a.status.Write(ctx, pod, st); err != nil {
		return 0, err
	}
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		return 0, nil
	}
	if settled(append(append(initStatuses, statuses...), ephemeral...)) {
		return refresh, nil
	}
	return resync, nil
}

func containersByName(list []runtime.ContainerStatus) map[string]*runtime.ContainerStatus {
	out := map[string]*runtime.ContainerStatus{}
	for i := range list {
		out[list[i].Name] = &list[i]
	}
	return out
}

// settled is true when no container is on its way somewhere: each runs or has
// ended for good, so only the runtime (relist) or a probe can change it.
func settled(statuses []corev1.ContainerStatus) bool {
	for _, s := range statuses {
		if s.State.Waiting != nil {
			return false
		}
	}
	return true
}

// syncInit runs init containers one at a time; done once all have succeeded,
// sidecars (restartPolicy Always) among them once started and still running.
func (a *Worker) syncInit(ctx context.Context, pod *corev1.Pod, at Placement, byName map[string]*runtime.ContainerStatus) (bool, []corev1.ContainerStatus, error) {
	var out []corev1.ContainerStatus
	done := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if !done {
			out = append(out, status.Container(c, nil, "PodInitializing", ""))
			continue
		}
		st := byName[c.Name]
		if podutil.IsRestartableInitContainer(c) {
			// A sidecar: kept running (restarted whatever its exit) beside the
			// others; the next init container starts once it has started.
			cs := a.syncContainer(ctx, pod, at, c, st, corev1.RestartPolicyAlways)
			out = append(out, cs)
			done = cs.State.Running != nil && cs.Started != nil && *cs.Started
			continue
		}
		if st != nil && st.State == runtime.StateExited && st.ExitCode == 0 {
			out = append(out, initDone(status.Container(c, st, "", "")))
			continue
		}
		// An init container that fails is retried unless the pod never restarts.
		policy := corev1.RestartPolicyOnFailure
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			policy = corev1.RestartPolicyNever
		}
		cs := a.syncContainer(ctx, pod, at, c, st, policy)
		if t := cs.State.Terminated; t != nil && t.ExitCode == 0 {
			out = append(out, initDone(cs))
			continue // done at once: on to the next
		}
		out = append(out, cs)
		done = false
		if cs.State.Terminated != nil { // failed for good; the rest never run
			for _, rest := range pod.Spec.InitContainers[i+1:] {
				out = append(out, status.Container(&rest, nil, "PodInitializing", ""))
			}
			return true, out, nil
		}
	}
	return done, out, nil
}

// syncEphemeral runs the pod's ephemeral containers (kubectl debug) as kubelet
// does: each started once, in the pod's namespaces, never restarted; their spec
// has no probes, ports or resources.
func (a *Worker) syncEphemeral(ctx context.Context, pod *corev1.Pod, at Placement, byName map[string]*runtime.ContainerStatus) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for i := range pod.Spec.EphemeralContainers {
		c := ephemeralContainer(&pod.Spec.EphemeralContainers[i])
		out = append(out, a.syncContainer(ctx, pod, at, c, byName[c.Name], corev1.RestartPolicyNever))
	}
	return out
}

// ephemeralContainer is ec as a container: the same fields, as kubelet converts it.
func ephemeralContainer(ec *corev1.EphemeralContainer) *corev1.Container {
	return (*corev1.Container)(&ec.EphemeralContainerCommon)
}

// initDone marks an init container that has succeeded ready, as kubelet does:
// the Initialized condition counts an init container complete by its ready.
func initDone(cs corev1.ContainerStatus) corev1.ContainerStatus {
	cs.Ready = true
	return cs
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
func (a *Worker) syncContainer(ctx context.Context, pod *corev1.Pod, at Placement, c *corev1.Container, st *runtime.ContainerStatus, policy corev1.RestartPolicy) corev1.ContainerStatus {
	attempt := 0
	switch {
	case st != nil && st.State == runtime.StateCreated:
		// Created and never started: a start cut off midway; start it again.
		attempt = st.Attempt
	case st != nil:
		if st.State != runtime.StateExited {
			cs := status.Container(c, st, "", "")
			if st.State == runtime.StateRunning {
				a.applyProbes(pod, at, c, st, &cs)
			}
			return cs
		}
		a.probes.Stop(pod.UID, c.Name)
		if cs, hold := a.exited(pod, c, st, policy); hold {
			return cs
		}
		attempt = st.Attempt + 1
	}
	return a.start(ctx, pod, at, c, st, attempt, policy)
}

// start starts attempt of c (st: the run before, if any) and returns its API
// status: the image pulled, its environment, mounts and postStart hook.
func (a *Worker) start(ctx context.Context, pod *corev1.Pod, at Placement, c *corev1.Container, st *runtime.ContainerStatus, attempt int, policy corev1.RestartPolicy) corev1.ContainerStatus {
	img, err := a.images.Pull(ctx, pod, c)
	if err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		return status.Container(c, st, "ErrImagePull", err.Error())
	}
	if img.Pulled {
		a.event(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q", c.Image)
	}
	spec := runtimeContainer(pod, c, attempt, at.Allocatable)
	if spec.Env, err = a.env.Env(ctx, withAddresses(pod, at), c, at.Allocatable); err == nil {
		// $(VAR) in command and args, as kubelet expands them.
		spec.Command, spec.Args = kubecontainer.ExpandContainerCommandAndArgs(c, envvars.Kubelet(spec.Env))
		spec.Mounts, err = a.volumes.Mounts(pod, c, spec.Env)
	}
	if err == nil && c.TerminationMessagePath != "" {
		var path string
		if path, err = a.terminationLog(pod, c, attempt); err == nil {
			spec.Mounts = append(spec.Mounts, runtime.Mount{HostPath: path, ContainerPath: c.TerminationMessagePath})
		}
	}
	if err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return status.Container(c, st, "CreateContainerConfigError", err.Error())
	}
	started, err := a.cfg.Runtime.StartContainer(ctx, at.SandboxID, spec)
	if err != nil {
		a.event(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return status.Container(c, st, "CreateContainerError", err.Error())
	}
	a.event(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if started.State == runtime.StateRunning && c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		runtime.Blocking(ctx) // the hook takes what the container takes
		t := target(pod, at, c, &started)
		if err := a.handlers.Hook(ctx, t, c.Lifecycle.PostStart, terminationGrace(pod)); err != nil {
			a.event(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			a.kill(t, terminationGrace(pod))
		}
	}
	if started.State == runtime.StateExited { // died at once
		cs, _ := a.exited(pod, c, &started, policy)
		return cs
	}
	cs := status.Container(c, &started, "", "")
	a.applyProbes(pod, at, c, &started, &cs)
	return cs
}

// withAddresses is pod with the sandbox's addresses in its status, as kubelet
// resolves status.podIP(s) and status.hostIP(s) references before the API
// has them; pod itself is left as read (the status writer compares with it).
func withAddresses(pod *corev1.Pod, at Placement) *corev1.Pod {
	if pod.Status.PodIP == at.PodIP && pod.Status.HostIP == at.HostIP {
		return pod
	}
	p := *pod
	p.Status.PodIP, p.Status.HostIP = at.PodIP, at.HostIP
	p.Status.PodIPs, p.Status.HostIPs = []corev1.PodIP{{IP: at.PodIP}}, []corev1.HostIP{{IP: at.HostIP}}
	return &p
}

// target is container c's current run, for probes and hooks.
func target(pod *corev1.Pod, at Placement, c *corev1.Container, st *runtime.ContainerStatus) prober.Target {
	return prober.Target{Pod: pod, Container: c, Sandbox: at.SandboxID, PodIP: at.PodIP, ContainerID: st.ID, Started: st.Started}
}

// applyProbes sets a running container's started and ready fields from its
// probes and kills it when its liveness or startup probe has failed.
func (a *Worker) applyProbes(pod *corev1.Pod, at Placement, c *corev1.Container, st *runtime.ContainerStatus, cs *corev1.ContainerStatus) {
	t := target(pod, at, c, st)
	s := a.probes.Sync(t)
	cs.Started, cs.Ready = ptr.To(s.Started), s.Ready
	if s.Failed == "" {
		return
	}
	grace := terminationGrace(pod)
	spec := c.LivenessProbe
	if s.Failed == prober.Startup {
		spec = c.StartupProbe
	}
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	if _, busy := a.killing.Load(st.ID); !busy {
		a.event(pod, corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", c.Name, strings.ToLower(string(s.Failed)))
	}
	a.kill(t, grace)
}

// kill stops a container in the background (it may take its grace period) and
// wakes the sandbox when it has exited; the restart policy takes it from there.
func (a *Worker) kill(t prober.Target, grace time.Duration) {
	if _, busy := a.killing.LoadOrStore(t.ContainerID, true); busy {
		return
	}
	go func() {
		defer a.killing.Delete(t.ContainerID)
		if err := a.cfg.Runtime.StopContainer(a.ctx, t.Sandbox, t.Container.Name, grace); err != nil {
			a.event(t.Pod, corev1.EventTypeWarning, "FailedKillPod", "error killing container %s: %v", t.Container.Name, err)
		}
		a.cfg.Wake(t.Sandbox)
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
func (a *Worker) exited(pod *corev1.Pod, c *corev1.Container, st *runtime.ContainerStatus, policy corev1.RestartPolicy) (corev1.ContainerStatus, bool) {
	if policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && st.ExitCode == 0) {
		return status.Container(c, st, "", ""), true
	}
	delay := status.RestartDelay(st.Attempt)
	if st.Finished.Add(delay).After(a.cfg.Clock.Now()) {
		return status.Container(c, st, "CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s", delay, c.Name, pod.Name, pod.Namespace)), true
	}
	return corev1.ContainerStatus{}, false
}

// runtimeContainer is what the runtime needs of a container spec: the container's
// securityContext over the pod's, with fsGroup and supplementalGroups as extra
// groups; its cgroup settings within the node's allocatable.
func runtimeContainer(pod *corev1.Pod, c *corev1.Container, attempt int, allocatable corev1.ResourceList) runtime.Container {
	res := resources.Of(c)
	out := runtime.Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir,
		TTY: c.TTY, Stdin: c.Stdin, StdinOnce: c.StdinOnce, Attempt: attempt,
		Resources: resources.Cgroup(res, allocatable), Annotations: resources.Annotations(res)}
	if psc := pod.Spec.SecurityContext; psc != nil {
		out.User, out.Group = psc.RunAsUser, psc.RunAsGroup
		for _, s := range psc.Sysctls {
			if out.Sysctls == nil {
				out.Sysctls = map[string]string{}
			}
			out.Sysctls[s.Name] = s.Value
		}
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
