package podworker

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/klog/v2"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/kubernetes/pkg/kubelet/events"

	"github.com/fargo-dev/fargo/internal/agent/podworker/resources"
	"github.com/fargo-dev/fargo/internal/agent/podworker/status"
	"github.com/fargo-dev/fargo/internal/runtime"
)

// resizing is a running container whose spec resources differ from those it
// was given: the pod's resize subresource changed them.
type resizing struct {
	c        *corev1.Container
	st       *runtime.ContainerStatus
	from, to corev1.ResourceRequirements
}

// resize carries out an in-place resize as kubelet does: once the pod's new
// requests fit its node (on Fargate, the size provisioned for the pod, which
// is fixed), each changed container gets its new cgroup settings in place, or
// is restarted where its resizePolicy says so. (The API server already refuses
// a resize past the node's allocatable; the check here is kubelet's, for one
// that raced a change of the node.) It returns the resize condition to report
// (nil: none) and whether a container changed.
func (a *Worker) resize(ctx context.Context, pod *corev1.Pod, at Placement, byName map[string]*runtime.ContainerStatus) (*corev1.PodCondition, bool) {
	var changes []resizing
	for c := range podutil.ContainerIter(&pod.Spec, podutil.InitContainers|podutil.Containers) {
		st := byName[c.Name]
		if st == nil || st.State != runtime.StateRunning {
			continue // a container that starts later starts with its spec
		}
		from, ok := resources.Actuated(st)
		if to := resources.Of(c); ok && !resources.Equal(from, to) {
			changes = append(changes, resizing{c: c, st: st, from: from, to: to})
		}
	}
	if len(changes) == 0 {
		return nil, false
	}
	logger := klog.FromContext(ctx)
	if msg := overCapacity(pod, at.Allocatable); msg != "" {
		cond := a.resizeCondition(pod, corev1.PodResizePending, corev1.PodReasonInfeasible, msg)
		if _, old := podutil.GetPodConditionFromList(pod.Status.Conditions, corev1.PodResizePending); old == nil ||
			old.Reason != cond.Reason || old.ObservedGeneration != cond.ObservedGeneration {
			a.event(pod, corev1.EventTypeWarning, events.ResizeInfeasible, "%s", events.PodResizePendingMsg(logger, pod, cond.Reason, msg, pod.Generation))
		}
		return cond, false
	}
	for _, ch := range changes {
		var err error
		if restartsOnResize(ch) {
			err = a.restartForResize(ctx, pod, at, ch)
		} else {
			err = a.cfg.Runtime.UpdateContainer(ctx, at.SandboxID, ch.c.Name, resources.Cgroup(ch.to, at.Allocatable), resources.Annotations(ch.to))
		}
		if err != nil {
			msg := fmt.Sprintf("resizing container %s: %v", ch.c.Name, err)
			a.event(pod, corev1.EventTypeWarning, events.ResizeError, "%s", events.PodResizeErrorMsg(logger, pod, pod.Generation, msg))
			return a.resizeCondition(pod, corev1.PodResizeInProgress, corev1.PodReasonError, msg), true
		}
	}
	a.event(pod, corev1.EventTypeNormal, events.ResizeCompleted, "%s", events.PodResizeCompletedMsg(logger, pod, pod.Generation))
	return nil, true
}

func (a *Worker) resizeCondition(pod *corev1.Pod, kind corev1.PodConditionType, reason, msg string) *corev1.PodCondition {
	return &corev1.PodCondition{Type: kind, Status: corev1.ConditionTrue, Reason: reason, Message: msg,
		ObservedGeneration: podutil.CalculatePodConditionObservedGeneration(&pod.Status, pod.Generation, kind)}
}

// setResizeCondition leaves cond (none when nil) as the pod's one resize
// condition: a resize done or given up leaves none behind.
func setResizeCondition(st *corev1.PodStatus, cond *corev1.PodCondition, now metav1.Time) {
	kept := st.Conditions[:0]
	for _, c := range st.Conditions {
		stale := c.Type == corev1.PodResizePending || c.Type == corev1.PodResizeInProgress
		if !stale || (cond != nil && c.Type == cond.Type) {
			kept = append(kept, c)
		}
	}
	st.Conditions = kept
	if cond != nil {
		status.SetCondition(st, *cond, now)
	}
}

// overCapacity says why the pod's requests do not fit allocatable, as
// kubelet's admission does; "" when they do (or nothing is known of the node).
func overCapacity(pod *corev1.Pod, allocatable corev1.ResourceList) string {
	requests := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		capacity, known := allocatable[name]
		want := requests[name]
		if !known || want.Cmp(capacity) <= 0 {
			continue
		}
		value := func(q corev1.ResourceList) int64 {
			v := q[name]
			if name == corev1.ResourceCPU {
				return v.MilliValue()
			}
			return v.Value()
		}
		return fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: 0, capacity: %d "+
			"(the node is the pod's own, of the size provisioned when it was scheduled: recreate the pod to change its size)",
			name, value(requests), value(allocatable))
	}
	return ""
}

// restartsOnResize: a changed resource whose resizePolicy is RestartContainer.
func restartsOnResize(ch resizing) bool {
	for _, p := range ch.c.ResizePolicy {
		if p.RestartPolicy != corev1.RestartContainer {
			continue
		}
		from, to := ch.from, ch.to
		if !from.Requests[p.ResourceName].Equal(to.Requests[p.ResourceName]) || !from.Limits[p.ResourceName].Equal(to.Limits[p.ResourceName]) {
			return true
		}
	}
	return false
}

// restartForResize stops the container and starts its next attempt with the
// new resources at once, whatever the pod's restart policy, as kubelet does.
func (a *Worker) restartForResize(ctx context.Context, pod *corev1.Pod, at Placement, ch resizing) error {
	a.probes.Stop(pod.UID, ch.c.Name)
	if err := a.cfg.Runtime.StopContainer(ctx, at.SandboxID, ch.c.Name, terminationGrace(pod)); err != nil {
		return err
	}
	cs := a.start(ctx, pod, at, ch.c, ch.st, ch.st.Attempt+1, corev1.RestartPolicyAlways)
	if w := cs.State.Waiting; w != nil {
		return fmt.Errorf("%s: %s", w.Reason, w.Message)
	}
	return nil
}
