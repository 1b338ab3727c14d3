package lb

import (
	"context"
	"net"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/fargo-dev/fargo/internal/scheme"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

func cidr(s string) *net.IPNet { _, n, _ := net.ParseCIDR(s); return n }

type suite struct {
	t   *testing.T
	c   client.Client
	ctl *Controller
	rec *record.FakeRecorder
}

func newSuite(t *testing.T, objs ...client.Object) *suite {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).WithStatusSubresource(&corev1.Service{}).Build()
	rec := record.NewFakeRecorder(20)
	return &suite{t: t, c: c, rec: rec, ctl: &Controller{Client: c, Recorder: rec, Cluster: "eksworkshop", Region: "ap-southeast-1",
		Subnets:  []Subnet{{ID: "subnet-priv", Net: cidr("192.168.96.0/24")}, {ID: "subnet-pub", Net: cidr("192.168.0.0/24"), Public: true}},
		Reserved: func(ip net.IP) bool { return cidr("192.168.96.240/28").Contains(ip) }, Addresses: &Addresses{}}}
}

func (s *suite) reconcile(ns, name string) *corev1.Service {
	s.t.Helper()
	if _, err := s.ctl.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}); err != nil {
		s.t.Fatal(err)
	}
	svc := &corev1.Service{}
	if err := s.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
		return nil
	}
	return svc
}

func lbService(ns, name string, annotations map[string]string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Annotations: annotations},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}}
}

func TestSchemeChoosesSubnetsAndAddressesComeFromTheTop(t *testing.T) {
	s := newSuite(t,
		lbService("test2-fargate", "nginx", map[string]string{AnnotationScheme: SchemeInternetFacing, AnnotationTarget: "ip"}),
		lbService("demo", "internal", nil),
		lbService("demo", "second", nil))
	pub := s.reconcile("test2-fargate", "nginx")
	ing := pub.Status.LoadBalancer.Ingress
	if len(ing) != 1 || ing[0].IP != "192.168.0.254" {
		t.Fatalf("internet-facing ingress = %+v, want 192.168.0.254 (top of the public subnet)", ing)
	}
	if !strings.HasPrefix(ing[0].Hostname, "k8s-test2far-nginx-") || !strings.HasSuffix(ing[0].Hostname, ".elb.ap-southeast-1.amazonaws.com") {
		t.Fatalf("hostname %q is not in the NLB shape", ing[0].Hostname)
	}
	if ip := s.reconcile("demo", "internal").Status.LoadBalancer.Ingress[0].IP; ip != "192.168.96.239" {
		t.Fatalf("internal address %s, want 192.168.96.239 (below the node group's block)", ip)
	}
	if ip := s.reconcile("demo", "second").Status.LoadBalancer.Ingress[0].IP; ip != "192.168.96.238" {
		t.Fatalf("second internal address %s, want 192.168.96.238", ip)
	}
	if !s.ctl.Addresses.Held(net.ParseIP("192.168.96.238")) {
		t.Fatal("the scheduler is not told of a load balancer's address")
	}
	// The cluster DNS's hosts file follows (on the reconcile after each write).
	s.reconcile("demo", "second")
	cm := &corev1.ConfigMap{}
	if err := s.c.Get(context.Background(), client.ObjectKey{Namespace: "kube-system", Name: "coredns-load-balancers"}, cm); err != nil {
		t.Fatal(err)
	}
	want := "192.168.0.254 " + ing[0].Hostname
	if hosts := cm.Data["hosts"]; !strings.Contains(hosts, want+"\n") || strings.Count(hosts, "\n") != 3 {
		t.Fatalf("hosts file %q, want three lines with %q", hosts, want)
	}
	// Reconciled again (a restart: nothing in memory), each keeps its address.
	s.ctl.Addresses = &Addresses{}
	if ip := s.reconcile("demo", "internal").Status.LoadBalancer.Ingress[0].IP; ip != "192.168.96.239" {
		t.Fatalf("after a restart the address moved to %s", ip)
	}
}

// A reconcile that runs before the cache shows an address this process wrote
// (here: the status lost) keeps it held, for a while.
func TestWrittenAddressHeldUntilTheCacheShowsIt(t *testing.T) {
	s := newSuite(t, lbService("demo", "a", nil), lbService("demo", "b", nil))
	s.reconcile("demo", "a")
	svc := &corev1.Service{}
	_ = s.c.Get(context.Background(), client.ObjectKey{Namespace: "demo", Name: "a"}, svc)
	svc.Status.LoadBalancer.Ingress = nil // as a cache that has not seen the write
	if err := s.c.Status().Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if ip := s.reconcile("demo", "b").Status.LoadBalancer.Ingress[0].IP; ip == "192.168.96.239" {
		t.Fatal("b was given the address just written for a")
	}
	if !s.ctl.Addresses.Held(net.ParseIP("192.168.96.239")) {
		t.Fatal("the address written for a is not held")
	}
}

func TestDeletedOrRetypedServiceFreesItsAddress(t *testing.T) {
	s := newSuite(t, lbService("demo", "a", nil))
	s.reconcile("demo", "a")
	svc := &corev1.Service{}
	_ = s.c.Get(context.Background(), client.ObjectKey{Namespace: "demo", Name: "a"}, svc)
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	if err := s.c.Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if got := s.reconcile("demo", "a"); len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("a ClusterIP service keeps ingress %+v", got.Status.LoadBalancer.Ingress)
	}
	if s.ctl.Addresses.Held(net.ParseIP("192.168.96.239")) {
		t.Fatal("the address of a service that is no load balancer is still held")
	}
}

func TestOtherClassesAreLeftAlone(t *testing.T) {
	other := lbService("demo", "metallb", nil)
	other.Spec.LoadBalancerClass = ptr.To("metallb.io/metallb")
	nlb := lbService("demo", "nlb", nil)
	nlb.Spec.LoadBalancerClass = ptr.To(ClassNLB)
	s := newSuite(t, other, nlb)
	if got := s.reconcile("demo", "metallb"); len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("a service of another class got %+v", got.Status.LoadBalancer.Ingress)
	}
	if got := s.reconcile("demo", "nlb"); len(got.Status.LoadBalancer.Ingress) != 1 {
		t.Fatalf("a service of class %s got no address", ClassNLB)
	}
}

func TestNoPublicSubnetSaysWhatToDo(t *testing.T) {
	s := newSuite(t, lbService("demo", "pub", map[string]string{AnnotationScheme: SchemeInternetFacing}))
	s.ctl.Subnets = s.ctl.Subnets[:1]
	if got := s.reconcile("demo", "pub"); len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Fatal("an internet-facing service got an address with no public subnet")
	}
	ev := <-s.rec.Events
	if !strings.Contains(ev, "FailedDeployModel") || !strings.Contains(ev, "vpc.subnets.public") {
		t.Fatalf("event %q does not say how to fix it", ev)
	}
}

func TestInstanceTargetsOnFargateAreRefused(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "fargate-ip-192-168-96-5.ap-southeast-1.compute.internal",
		Labels: map[string]string{v1alpha1.LabelComputeType: v1alpha1.ComputeFargate}}}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-x", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.168.96.5"}, NodeName: &node.Name, TargetRef: &corev1.ObjectReference{Name: "web-1"}}}}
	s := newSuite(t, node, slice, lbService("demo", "web", map[string]string{AnnotationTarget: TargetInstance}))
	if got := s.reconcile("demo", "web"); len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("instance targets on Fargate got %+v", got.Status.LoadBalancer.Ingress)
	}
	if ev := <-s.rec.Events; !strings.Contains(ev, "web-1") || !strings.Contains(ev, AnnotationTarget+": ip") {
		t.Fatalf("event %q names neither the pod nor the fix", ev)
	}
}

func TestHostnameShape(t *testing.T) {
	h := Hostname("eksworkshop", "ap-southeast-1", "", "nginx-ec2nodegroup", "service-nginx-ec2nodegroup", "u1")
	parts := strings.Split(strings.TrimSuffix(h, ".elb.ap-southeast-1.amazonaws.com"), "-")
	if len(parts) != 5 || parts[0] != "k8s" || parts[1] != "nginxec2" || parts[2] != "servicen" || len(parts[3]) != 10 || len(parts[4]) != 16 {
		t.Fatalf("hostname %q is not in the seed's shape (k8s-nginxec2-servicen-<10 hex>-<16 hex>.elb.<region>.amazonaws.com)", h)
	}
	if Hostname("eksworkshop", "ap-southeast-1", "", "nginx-ec2nodegroup", "service-nginx-ec2nodegroup", "u2") == h {
		t.Fatal("a new Service of the same name got the same hostname")
	}
}
