package images

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestPullAuth(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example.com:5000":{"username":"u","password":"p"}}}`)}}
	c := fake.NewClientBuilder().WithObjects(secret).Build()
	p := &Puller{Reader: c, Recorder: record.NewFakeRecorder(10)}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"},
		Spec: corev1.PodSpec{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "missing"}}}}
	auth, err := p.auth(context.Background(), pod, "registry.example.com:5000/team/app:1")
	if err != nil || len(auth) != 1 || auth[0].Username != "u" || auth[0].Password != "p" {
		t.Errorf("credentials for the secret's registry: %+v, %v; want u/p", auth, err)
	}
	if auth, _ := p.auth(context.Background(), pod, "other.example.com/app:1"); len(auth) != 0 {
		t.Errorf("credentials for another registry: %+v, want none", auth)
	}
}
