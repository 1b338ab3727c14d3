package clusterdns

import (
	"context"
	"net"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func TestCorefileForwardsToTheNodeOrToTheUpstreamGiven(t *testing.T) {
	if got := (Config{}).Corefile(); !strings.Contains(got, "forward . /etc/resolv.conf\n") {
		t.Errorf("default Corefile does not forward to the node's resolv.conf:\n%s", got)
	}
	got := Config{Upstream: []string{"192.0.2.53", "192.0.2.54:5353"}}.Corefile()
	if !strings.Contains(got, "forward . 192.0.2.53 192.0.2.54:5353\n") {
		t.Errorf("Corefile does not forward to the upstream given:\n%s", got)
	}
	for _, plugin := range []string{"errors", "health", "ready", "kubernetes cluster.local in-addr.arpa ip6.arpa", "pods insecure", "prometheus :9153", "cache 30", "loop", "reload", "loadbalance"} {
		if !strings.Contains(got, plugin) {
			t.Errorf("Corefile lacks %q, which EKS's has", plugin)
		}
	}
}

func TestFargateProfileThatTakesCoreDNS(t *testing.T) {
	fp := func(name string, sel ...v1alpha1.FargateProfileSelector) *v1alpha1.FargateProfile {
		return &v1alpha1.FargateProfile{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.FargateProfileSpec{Selectors: sel}}
	}
	for _, tc := range []struct {
		name     string
		profiles []*v1alpha1.FargateProfile
		want     string
	}{
		{"none", nil, ""},
		{"default namespace only", []*v1alpha1.FargateProfile{fp("fp-apps", v1alpha1.FargateProfileSelector{Namespace: "default"})}, ""},
		{"eksctl --fargate", []*v1alpha1.FargateProfile{fp("fp-default", v1alpha1.FargateProfileSelector{Namespace: "default"}, v1alpha1.FargateProfileSelector{Namespace: "kube-system"})}, "fp-default"},
		{"the EKS guide's kube-dns profile", []*v1alpha1.FargateProfile{fp("coredns", v1alpha1.FargateProfileSelector{Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}})}, "coredns"},
		{"another kube-system label", []*v1alpha1.FargateProfile{fp("other", v1alpha1.FargateProfileSelector{Namespace: "kube-system", Labels: map[string]string{"app": "metrics"}})}, ""},
	} {
		got := FargateProfile(tc.profiles)
		if (got == nil && tc.want != "") || (got != nil && got.Name != tc.want) {
			t.Errorf("%s: profile %v, want %q", tc.name, got, tc.want)
		}
	}
}

func TestInstallKeepsWhatTheUserChangedButTheImage(t *testing.T) {
	ctx := context.Background()
	cl := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	cfg := Config{Address: net.ParseIP("10.100.0.10"), Image: "fargo.local/coredns:aaaa"}
	if err := Install(ctx, cl, cfg); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "kube-dns"}, svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.100.0.10" || svc.Spec.Selector["k8s-app"] != "kube-dns" || len(svc.Spec.Ports) != 3 {
		t.Errorf("kube-dns Service: %+v", svc.Spec)
	}
	d := &appsv1.Deployment{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "coredns"}, d); err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Annotations[v1alpha1.AnnotationComputeType]; got != "ec2" {
		t.Errorf("compute-type annotation %q, want ec2 (CoreDNS on the node group, as EKS ships it)", got)
	}

	// The user edits the Corefile and moves CoreDNS to Fargate as EKS's guide
	// says (the annotation removed); a new binary comes with an upgrade.
	cm := &corev1.ConfigMap{}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "coredns"}, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["Corefile"] = "# edited\n" + cm.Data["Corefile"]
	if err := cl.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	delete(d.Spec.Template.Annotations, v1alpha1.AnnotationComputeType)
	if err := cl.Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	cfg.Image = "fargo.local/coredns:bbbb"
	if err := Install(ctx, cl, cfg); err != nil {
		t.Fatal(err)
	}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "coredns"}, cm); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cm.Data["Corefile"], "# edited\n") {
		t.Errorf("the user's Corefile was overwritten:\n%s", cm.Data["Corefile"])
	}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "coredns"}, d); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Spec.Template.Annotations[v1alpha1.AnnotationComputeType]; ok {
		t.Errorf("the annotation the user removed is back")
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != cfg.Image {
		t.Errorf("image %s, want the new binary's %s", got, cfg.Image)
	}
}

// Fargate refuses any added capability (internal/support), so CoreDNS's
// pods sent there must carry none; on the node group they keep EKS's.
func TestDeploymentOnFargateAddsNoCapability(t *testing.T) {
	ec2 := Config{Image: "x"}.deployment().Spec.Template.Spec.Containers[0].SecurityContext
	if ec2.Capabilities == nil || len(ec2.Capabilities.Add) != 1 || ec2.Capabilities.Add[0] != "NET_BIND_SERVICE" {
		t.Errorf("node-group CoreDNS capabilities %+v, want EKS's add NET_BIND_SERVICE, drop ALL", ec2.Capabilities)
	}
	d := Config{Image: "x", Fargate: true}.deployment()
	if sc := d.Spec.Template.Spec.Containers[0].SecurityContext; sc.Capabilities != nil {
		t.Errorf("Fargate CoreDNS capabilities %+v, want none changed", sc.Capabilities)
	}
	if got := d.Spec.Template.Annotations[v1alpha1.AnnotationComputeType]; got != "fargate" {
		t.Errorf("compute-type %q, want fargate", got)
	}
}
