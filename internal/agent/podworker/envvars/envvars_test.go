package envvars

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func service(ns, name, ip string, port int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP}}}}
}

func TestServiceEnv(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(
		service("default", "kubernetes", "10.100.0.1", 443),
		service("apps", "web-front", "10.100.3.4", 80),
		service("apps", "headless", corev1.ClusterIPNone, 80),
		service("other", "db", "10.100.9.9", 5432),
	).Build()
	r := &Resolver{Services: c, Reader: c}
	env := func(links *bool) map[string]string {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"}, Spec: corev1.PodSpec{EnableServiceLinks: links}}
		vars, err := r.serviceEnv(context.Background(), pod)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, v := range vars {
			out[v.Name] = v.Value
		}
		return out
	}
	got := env(nil)
	for k, want := range map[string]string{
		"KUBERNETES_SERVICE_HOST": "10.100.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_PORT": "tcp://10.100.0.1:443",
		"WEB_FRONT_SERVICE_HOST": "10.100.3.4", "WEB_FRONT_SERVICE_PORT_HTTP": "80", "WEB_FRONT_PORT_80_TCP_ADDR": "10.100.3.4",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if _, ok := got["HEADLESS_SERVICE_HOST"]; ok {
		t.Error("a headless service got variables")
	}
	if _, ok := got["DB_SERVICE_HOST"]; ok {
		t.Error("a service of another namespace got variables")
	}
	got = env(ptr.To(false))
	if got["KUBERNETES_SERVICE_HOST"] != "10.100.0.1" || got["WEB_FRONT_SERVICE_HOST"] != "" {
		t.Errorf("enableServiceLinks=false: %v, want only the kubernetes service", got)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "B": "y"}
	for in, want := range map[string]string{
		"$(A)-$(B)": "x-y", "$$(A)": "$(A)", "$(C)": "$(C)", "a$": "a$", "$(A": "$(A", "plain": "plain",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}
