package support

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func lookup(claims ...*corev1.PersistentVolumeClaim) PVCLookup {
	return func(ns, name string) (*corev1.PersistentVolumeClaim, error) {
		for _, c := range claims {
			if c.Namespace == ns && c.Name == name {
				return c, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumeclaims"}, name)
	}
}

func pod(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	mutate(p)
	return p
}

func yes() *bool { t := true; return &t }

func TestCheck(t *testing.T) {
	bound := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	pending := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "slow", Namespace: "ns"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}}
	pvcVolume := func(vol, claim string) corev1.Volume {
		return corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
	}
	cases := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"plain", pod(func(*corev1.Pod) {}), ""},
		{"supported volumes", pod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, pvcVolume("d", "data")}
		}), ""},
		{"host network", pod(func(p *corev1.Pod) { p.Spec.HostNetwork = true }), "Pod not supported on Fargate: fields not supported: HostNetwork"},
		{"host port", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		}), "Pod not supported on Fargate: port contains HostIP or HostPort"},
		{"privileged", pod(func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: yes()} }), "Pod not supported on Fargate: invalid SecurityContext fields: Privileged"},
		{"capabilities", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}}}
		}), "Pod not supported on Fargate: invalid SecurityContext fields: Capabilities added: NET_ADMIN"},
		{"hostPath", pod(func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "docker", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run"}}}}
		}), "Pod not supported on Fargate: volumes not supported: docker is of an unsupported volume Type"},
		{"PVC not bound", pod(func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{pvcVolume("cache", "slow")} }), "Pod not supported on Fargate: volumes not supported: cache not supported because: PVC slow not bound"},
		{"PVC missing", pod(func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{pvcVolume("persistence", "test-pvc")} }),
			`Pod not supported on Fargate: volumes not supported: persistence not supported because: persistentvolumeclaim "test-pvc" not found`},
		{"DaemonSet", pod(func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{{Kind: "DaemonSet", Name: "ds"}} }), "Pod not supported on Fargate: DaemonSet pods not supported"},
		{"GPU", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
		}), "Pod not supported on Fargate: resources not supported: nvidia.com/gpu"},
		{"EKS's combined example", pod(func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: yes()}
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 9808, HostPort: 9808}}
		}), "Pod not supported on Fargate: fields not supported: HostNetwork, invalid SecurityContext fields: Privileged, port contains HostIP or HostPort"},
	}
	for _, c := range cases {
		if got := Check(c.pod, lookup(bound, pending)); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func ExampleCheck() {
	p := pod(func(p *corev1.Pod) { p.Spec.HostNetwork = true })
	fmt.Println(Check(p, lookup()))
	// Output: Pod not supported on Fargate: fields not supported: HostNetwork
}
