package clusterdns

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// clusterRole is CoreDNS's, as EKS ships it.
const clusterRole = "system:coredns"

// labels are the pods' and the Service's, as EKS sets them.
func labels() map[string]string {
	return map[string]string{AppLabel: AppValue, Component: Name, "kubernetes.io/name": "CoreDNS"}
}

func meta(name string, l map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: l}
}

// owned are the objects fargo keeps as they are here on every start.
func (c Config) owned() []client.Object {
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: meta(Name, map[string]string{Component: Name})},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: clusterRole, Labels: map[string]string{Component: Name}},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
				{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
			}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: clusterRole, Labels: map[string]string{Component: Name}},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: Name, Namespace: Namespace}}},
		c.service(),
	}
}

func (c Config) service() *corev1.Service {
	l := labels()
	l["kubernetes.io/cluster-service"] = "true"
	l[Component] = Service
	s := &corev1.Service{ObjectMeta: meta(Service, l),
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{AppLabel: AppValue},
			ClusterIP: c.Address.String(),
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
				{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
			}}}
	s.Annotations = map[string]string{"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}
	return s
}

func (c Config) configMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: meta(Name, map[string]string{Component: Name, AppLabel: AppValue}),
		Data: map[string]string{configKey: c.Corefile()}}
}

// deployment is EKS's CoreDNS Deployment: two replicas spread over nodes, the
// compute-type annotation that keeps it off Fargate (or sends it there),
// probes on the health and ready plugins, 100m/70Mi requested, 170Mi limit.
// On Fargate a pod must be one Fargate admits (internal/support).
func (c Config) deployment() *appsv1.Deployment {
	compute := v1alpha1.ComputeEC2
	if c.Fargate {
		compute = v1alpha1.ComputeFargate
	}
	selector := map[string]string{AppLabel: AppValue, Component: Name}
	probe := func(path string, port int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(port), Scheme: corev1.URISchemeHTTP}}}
	}
	// CoreDNS binds port 53 as root: on the node group with every capability
	// dropped but NET_BIND_SERVICE, as EKS ships it; Fargate refuses any added
	// capability, and its default set has NET_BIND_SERVICE, so there the set
	// is left alone (as the EKS add-on's computeType: Fargate value does).
	security := &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true)}
	if !c.Fargate {
		security.Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}, Drop: []corev1.Capability{"ALL"}}
	}
	live := probe("/health", 8080)
	live.InitialDelaySeconds, live.TimeoutSeconds, live.SuccessThreshold, live.FailureThreshold = 60, 5, 1, 5
	return &appsv1.Deployment{ObjectMeta: meta(Name, labels()),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selector, Annotations: map[string]string{v1alpha1.AnnotationComputeType: compute}},
				Spec: corev1.PodSpec{
					ServiceAccountName: Name,
					PriorityClassName:  "system-cluster-critical",
					DNSPolicy:          corev1.DNSDefault,
					Tolerations:        []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}},
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100,
							PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: corev1.LabelHostname,
								LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{AppLabel: AppValue}}}}}}},
					Containers: []corev1.Container{{
						Name: Name, Image: c.Image, ImagePullPolicy: corev1.PullIfNotPresent,
						Args: []string{"-conf", configPath + "/" + configKey},
						Resources: corev1.ResourceRequirements{
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("170Mi")},
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("70Mi")}},
						VolumeMounts: []corev1.VolumeMount{{Name: "config-volume", MountPath: configPath, ReadOnly: true},
							{Name: "load-balancers", MountPath: LoadBalancersPath, ReadOnly: true}},
						Ports: []corev1.ContainerPort{
							{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
							{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP},
						},
						SecurityContext: security,
						LivenessProbe:   live,
						ReadinessProbe:  probe("/ready", 8181),
					}},
					Volumes: []corev1.Volume{{Name: "config-volume", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: Name},
						Items:                []corev1.KeyToPath{{Key: configKey, Path: configKey}}}}},
						{Name: "load-balancers", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: LoadBalancers}, Optional: ptr.To(true)}}}},
				},
			},
		}}
}
