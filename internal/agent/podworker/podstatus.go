package podworker

import (
	corev1 "k8s.io/api/core/v1"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	kubeletstatus "k8s.io/kubernetes/pkg/kubelet/status"

	"github.com/fargo-dev/fargo/internal/agent/podworker/status"
)

// fillStatus sets what follows from the containers' statuses and phase in st:
// addresses, start time, observed generation and the pod's conditions, the
// latter from kubelet's own generators (reasons and messages such as
// "containers with incomplete status: [init1 init2]").
func (a *Worker) fillStatus(pod *corev1.Pod, st *corev1.PodStatus, at Placement) {
	st.HostIP, st.PodIP = at.HostIP, at.PodIP
	st.HostIPs, st.PodIPs = []corev1.HostIP{{IP: at.HostIP}}, []corev1.PodIP{{IP: at.PodIP}}
	now := status.Time(a.cfg.Clock.Now())
	if st.StartTime == nil {
		st.StartTime = &now
	}
	old := &pod.Status
	st.ObservedGeneration = podutil.CalculatePodStatusObservedGeneration(pod)
	all := append(append([]corev1.ContainerStatus{}, st.InitContainerStatuses...), st.ContainerStatuses...)
	status.SetCondition(st, corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue,
		ObservedGeneration: podutil.CalculatePodConditionObservedGeneration(old, pod.Generation, corev1.PodReadyToStartContainers)}, now)
	status.SetCondition(st, kubeletstatus.GeneratePodInitializedCondition(pod, old, all, st.Phase), now)
	status.SetCondition(st, kubeletstatus.GenerateContainersReadyCondition(pod, old, all, st.Phase), now)
	status.SetCondition(st, kubeletstatus.GeneratePodReadyCondition(pod, old, st.Conditions, all, st.Phase), now)
}
