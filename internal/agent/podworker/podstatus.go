package podworker

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/fargo-dev/fargo/internal/agent/podworker/status"
)

// fillStatus sets what does not depend on containers: addresses, start time and
// conditions.
func (a *Worker) fillStatus(st *corev1.PodStatus, at Placement, initDone bool) {
	st.HostIP, st.PodIP = at.HostIP, at.PodIP
	st.HostIPs, st.PodIPs = []corev1.HostIP{{IP: at.HostIP}}, []corev1.PodIP{{IP: at.PodIP}}
	now := status.Time(a.cfg.Clock.Now())
	if st.StartTime == nil {
		st.StartTime = &now
	}
	ready := st.Phase == corev1.PodRunning
	for _, s := range st.ContainerStatuses {
		ready = ready && s.Ready
	}
	status.SetCondition(st, corev1.PodReadyToStartContainers, true, "", now)
	status.SetCondition(st, corev1.PodInitialized, initDone, "ContainersNotInitialized", now)
	status.SetCondition(st, corev1.ContainersReady, ready, "ContainersNotReady", now)
	status.SetCondition(st, corev1.PodReady, ready, "ContainersNotReady", now)
}
