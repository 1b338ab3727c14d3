package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// hostnameLabel pins a pod to one node.
const hostnameLabel = "kubernetes.io/hostname"

// notApplicable says what of the pod's spec does not apply on Fargate, where
// each pod runs on a node of its own: a nodeSelector or required node
// affinity naming a node. As on EKS the pod runs anyway, on its own node; the
// event tells the user why it is not where it asked to be. "" if nothing.
func notApplicable(pod *corev1.Pod) string {
	if h, ok := pod.Spec.NodeSelector[hostnameLabel]; ok {
		return fmt.Sprintf("Not applicable on Fargate: nodeSelector %s=%s (each Fargate pod runs on a node of its own); the pod runs on its own node", hostnameLabel, h)
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, e := range append(term.MatchExpressions, term.MatchFields...) {
				if e.Key == hostnameLabel || e.Key == "metadata.name" {
					return fmt.Sprintf("Not applicable on Fargate: required node affinity on %s (each Fargate pod runs on a node of its own); the pod runs on its own node", e.Key)
				}
			}
		}
	}
	return ""
}
