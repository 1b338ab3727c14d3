// Package support decides whether a pod can run on Fargate, with EKS's exact
// messages. One function, used by the admission webhook (as a warning) and by the
// fargate-scheduler (as the FailedScheduling reason). It is pure: PVCs are looked up
// through the function the caller passes.
package support

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Prefix starts every refusal, as on EKS.
const Prefix = "Pod not supported on Fargate: "

// PVCLookup returns the claim ns/name, or an error such as a NotFound.
type PVCLookup func(namespace, name string) (*corev1.PersistentVolumeClaim, error)

// Check returns "" when the pod can run on Fargate, else EKS's message:
// "Pod not supported on Fargate: " and the reasons, comma-separated.
func Check(pod *corev1.Pod, pvcs PVCLookup) string {
	var clauses []string
	if f := hostFields(&pod.Spec); len(f) > 0 {
		clauses = append(clauses, "fields not supported: "+strings.Join(f, ", "))
	}
	clauses = append(clauses, securityContext(&pod.Spec)...)
	if hostPorts(&pod.Spec) {
		clauses = append(clauses, "port contains HostIP or HostPort")
	}
	if v := volumes(pod, pvcs); len(v) > 0 {
		clauses = append(clauses, "volumes not supported: "+strings.Join(v, ", "))
	}
	if IsDaemonSetPod(&pod.ObjectMeta) {
		clauses = append(clauses, "DaemonSet pods not supported")
	}
	if r := extendedResources(&pod.Spec); len(r) > 0 {
		clauses = append(clauses, "resources not supported: "+strings.Join(r, ", "))
	}
	if len(clauses) == 0 {
		return ""
	}
	return Prefix + strings.Join(clauses, ", ")
}

func hostFields(spec *corev1.PodSpec) []string {
	var f []string
	if spec.HostNetwork {
		f = append(f, "HostNetwork")
	}
	if spec.HostPID {
		f = append(f, "HostPID")
	}
	if spec.HostIPC {
		f = append(f, "HostIPC")
	}
	return f
}

func allContainers(spec *corev1.PodSpec) []corev1.Container {
	out := append([]corev1.Container{}, spec.InitContainers...)
	return append(out, spec.Containers...)
}

func securityContext(spec *corev1.PodSpec) []string {
	var privileged, escalation bool
	added := map[string]bool{}
	for _, c := range allContainers(spec) {
		sc := c.SecurityContext
		if sc == nil {
			continue
		}
		privileged = privileged || (sc.Privileged != nil && *sc.Privileged)
		escalation = escalation || (sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation)
		if sc.Capabilities != nil {
			for _, cap := range sc.Capabilities.Add {
				added[string(cap)] = true
			}
		}
	}
	var out []string
	if privileged {
		out = append(out, "invalid SecurityContext fields: Privileged")
	}
	if len(added) > 0 {
		caps := make([]string, 0, len(added))
		for c := range added {
			caps = append(caps, c)
		}
		sort.Strings(caps)
		out = append(out, "invalid SecurityContext fields: Capabilities added: "+strings.Join(caps, ", "))
	}
	if escalation {
		out = append(out, "invalid SecurityContext fields: AllowPrivilegeEscalation")
	}
	return out
}

func hostPorts(spec *corev1.PodSpec) bool {
	for _, c := range allContainers(spec) {
		for _, p := range c.Ports {
			if p.HostPort != 0 || p.HostIP != "" {
				return true
			}
		}
	}
	return false
}

func volumes(pod *corev1.Pod, pvcs PVCLookup) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		s := v.VolumeSource
		switch {
		case s.EmptyDir != nil, s.ConfigMap != nil, s.Secret != nil, s.DownwardAPI != nil, s.Projected != nil:
		case s.PersistentVolumeClaim != nil:
			name := s.PersistentVolumeClaim.ClaimName
			pvc, err := pvcs(pod.Namespace, name)
			switch {
			case apierrors.IsNotFound(err):
				out = append(out, fmt.Sprintf("%s not supported because: persistentvolumeclaim %q not found", v.Name, name))
			case err != nil:
				out = append(out, fmt.Sprintf("%s not supported because: %v", v.Name, err))
			case pvc.Status.Phase != corev1.ClaimBound:
				out = append(out, fmt.Sprintf("%s not supported because: PVC %s not bound", v.Name, name))
			}
		default:
			out = append(out, v.Name+" is of an unsupported volume Type")
		}
	}
	return out
}

// extendedResources lists requested resources beyond cpu, memory and storage (GPUs and
// device-plugin resources), which Fargate cannot provide.
func extendedResources(spec *corev1.PodSpec) []string {
	seen := map[string]bool{}
	for _, c := range allContainers(spec) {
		for _, l := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
			for name := range l {
				switch name {
				case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
				default:
					seen[string(name)] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// IsDaemonSetPod reports whether a DaemonSet owns the pod.
func IsDaemonSetPod(meta *metav1.ObjectMeta) bool {
	for _, ref := range meta.OwnerReferences {
		if ref.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}
