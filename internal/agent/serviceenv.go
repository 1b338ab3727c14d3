package agent

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/kubelet/envvars"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// serviceEnv is the Docker-links style variables kubelet gives every container:
// the `kubernetes` service of the default namespace always (in-cluster clients
// find the apiserver by KUBERNETES_SERVICE_HOST/PORT), and, unless the pod turns
// enableServiceLinks off, every service of the pod's namespace with a cluster IP.
func (a *Agent) serviceEnv(ctx context.Context, pod *corev1.Pod) ([]corev1.EnvVar, error) {
	byName := map[string]*corev1.Service{}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list := &corev1.ServiceList{}
		if err := a.client.List(ctx, list, client.InNamespace(pod.Namespace)); err != nil {
			return nil, fmt.Errorf("listing services of namespace %s: %w", pod.Namespace, err)
		}
		for i := range list.Items {
			if s := &list.Items[i]; hasClusterIP(s) {
				byName[s.Name] = s
			}
		}
	}
	if _, ok := byName["kubernetes"]; !ok {
		master := &corev1.Service{}
		err := a.client.Get(ctx, client.ObjectKey{Namespace: metav1.NamespaceDefault, Name: "kubernetes"}, master)
		if err != nil {
			return nil, fmt.Errorf("reading the kubernetes service: %w", err)
		}
		if hasClusterIP(master) {
			byName["kubernetes"] = master
		}
	}
	services := make([]*corev1.Service, 0, len(byName))
	for _, s := range byName {
		services = append(services, s)
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	return envvars.FromServices(services), nil
}

func hasClusterIP(s *corev1.Service) bool {
	return s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone
}
