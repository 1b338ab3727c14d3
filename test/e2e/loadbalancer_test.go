//go:build e2e

package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// lbConfig is the seed's VPC cut down: a public and a private subnet, one
// node-group node, a Fargate profile for test2-fargate.
const lbConfig = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: eksworkshop, region: ap-southeast-1}
vpc:
  subnets:
    public:
      ap-southeast-1a: { id: subnet-pub, cidr: 192.168.0.0/19 }
    private:
      ap-southeast-1a: { id: subnet-priv, cidr: 192.168.96.0/19 }
managedNodeGroups:
  - name: managed-ng
    instanceType: m5.large
    desiredCapacity: 1
fargateProfiles:
  - name: fp-test2
    selectors:
      - namespace: test2-fargate
  - name: test3-mixed
    selectors:
      - namespace: test3-mixed
        labels: {runon: fargate}
`

// The second seed's test1-ec2nodegroup, test2-fargate and test3-mixed, as
// written but for the image: each internet-facing NLB gets an EXTERNAL-IP from the public subnet
// within 10 s and a hostname in the seed's shape, and an HTTP GET from the host
// to that address returns nginx's page from pods on the node group and on
// Fargate; CoreDNS answers a hostname; a Deployment scales 2 → 0 → 2 under a
// request loop (scaleUnderLoad); an endpoint turning unready stops getting
// requests while the others answer them all (unreadyUnderLoad);
// loadBalancerSourceRanges lets only its sources in (sourceRanges); deleting a
// Service frees its address; target type instance on Fargate is refused with
// an event.
func TestSeedLoadBalancers(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Nginx(filepath.Join(harness.Root(), "bin", "image-cache", "nginx"))
	nginx := images.Serve(t, "nginx", img, err)
	img, err = images.TestServer(filepath.Join(harness.Root(), "bin", "testserver"))
	testserver := images.Serve(t, "testserver", img, err)
	img, err = images.Busybox()
	busybox := images.Serve(t, "busybox", img, err)
	dataDir, cfg := harness.ClusterDir(t, "fargo-lb-", lbConfig)
	port := upstream(t)
	args := append(harness.Without(harness.ServerArgs(t, dataDir), "--without-dns"), "--config", cfg, "--runtime", "containerd",
		"--host-name", "lb", "--cpu-overcommit", "8", "--host-memory", "32Gi", "--dns-upstream", subnetRouter+":"+strconv.Itoa(port))
	s := harness.StartServerWith(t, args)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.TryKubectl("get", "pods,services", "-A", "-o", "wide")
			t.Logf("%s\nserver output:\n%s", out, harness.Tail(s.Output(), 30))
		}
	})
	_, public, _ := net.ParseCIDR("192.168.0.0/19")
	for _, app := range []struct {
		ns       string
		services []string // each named after its Deployment
		fargate  int      // pods of the namespace on Fargate
	}{
		{"test1-ec2nodegroup", []string{"nginx-ec2nodegroup"}, 0},
		{"test2-fargate", []string{"nginx-fargate-pod"}, 2},
		{"test3-mixed", []string{"nginx-mixed-ec2", "nginx-mixed-fargate"}, 2},
	} {
		t.Run(app.ns, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(harness.Root(), "examples", "seed", app.ns+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			manifest := strings.ReplaceAll(string(data), "public.ecr.aws/nginx/nginx:1.24-alpine-slim", nginx)
			applied := time.Now()
			if out, err := s.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
				t.Fatalf("kubectl apply: %v: %s", err, out)
			}
			ips := map[string]string{}
			for _, svc := range app.services {
				var ip string
				harness.Eventually(t, 10*time.Second, "an EXTERNAL-IP for "+svc, func() bool {
					ip, _ = s.TryKubectl("get", "service", svc, "-n", app.ns, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
					return ip != ""
				})
				t.Logf("%s: EXTERNAL-IP %s after %.2f s", svc, ip, time.Since(applied).Seconds())
				ips[svc] = ip
				if !public.Contains(net.ParseIP(ip)) {
					t.Errorf("internet-facing %s at %s, outside the public subnet %s", svc, ip, public)
				}
				host := s.Kubectl("get", "service", svc, "-n", app.ns, "-o", "jsonpath={.status.loadBalancer.ingress[0].hostname}")
				if !strings.HasPrefix(host, "k8s-"+strings.ReplaceAll(app.ns, "-", "")[:8]+"-") || !strings.HasSuffix(host, ".elb.ap-southeast-1.amazonaws.com") {
					t.Errorf("hostname %q is not in the seed's shape", host)
				}
			}
			if out := s.Kubectl("get", "services", "-n", app.ns); strings.Count(out, "192.168.") != len(app.services) {
				t.Errorf("kubectl get services shows no EXTERNAL-IP for each:\n%s", out)
			}
			for _, svc := range app.services {
				harness.Eventually(t, 2*time.Minute, svc+" pods ready", func() bool {
					out, _ := s.TryKubectl("get", "deployment", svc, "-n", app.ns, "-o", "jsonpath={.status.readyReplicas}")
					return out == "2"
				})
			}
			if out := s.Kubectl("get", "pods", "-n", app.ns, "-o", "wide"); strings.Count(out, "fargate-ip-") != app.fargate {
				t.Errorf("want %d of %s's pods on Fargate:\n%s", app.fargate, app.ns, out)
			}
			for svc, ip := range ips {
				harness.Eventually(t, 30*time.Second, "nginx's page at http://"+ip+" ("+svc+")", func() bool {
					body, err := tryGet("http://" + ip + "/")
					return err == nil && strings.Contains(body, "Welcome to nginx")
				})
			}
		})
	}

	// The cluster DNS answers a load balancer's hostname, as AWS's DNS does an
	// NLB's (its hosts file follows the ConfigMap, about a minute behind).
	name := s.Kubectl("get", "service", "nginx-fargate-pod", "-n", "test2-fargate", "-o", "jsonpath={.status.loadBalancer.ingress[0].hostname}")
	want := s.Kubectl("get", "service", "nginx-fargate-pod", "-n", "test2-fargate", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
	harness.Eventually(t, 2*time.Minute, "coredns 2/2 available", func() bool {
		out, _ := s.TryKubectl("get", "deployment", "coredns", "-n", "kube-system", "-o", "jsonpath={.status.availableReplicas}")
		return out == "2"
	})
	coredns := strings.Fields(s.Kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[*].status.podIP}"))
	asked := time.Now()
	harness.Eventually(t, 3*time.Minute, name+" resolved by CoreDNS", func() bool {
		q := new(dns.Msg)
		q.SetQuestion(name+".", dns.TypeA)
		r, err := dns.Exchange(q, net.JoinHostPort(coredns[0], "53"))
		if err != nil || len(r.Answer) != 1 {
			return false
		}
		a, ok := r.Answer[0].(*dns.A)
		return ok && a.A.String() == want
	})
	t.Logf("CoreDNS answered %s with %s after %.0f s", name, want, time.Since(asked).Seconds())

	scaleUnderLoad(t, s, testserver)
	unreadyUnderLoad(t, s, testserver)
	sourceRanges(t, s, busybox)

	// Deleting a Service frees its address: the next load balancer takes it.
	freed := s.Kubectl("get", "service", "nginx-ec2nodegroup", "-n", "test1-ec2nodegroup", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
	s.Kubectl("delete", "service", "nginx-ec2nodegroup", "-n", "test1-ec2nodegroup")
	s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"again","namespace":"test1-ec2nodegroup","annotations":{"service.beta.kubernetes.io/aws-load-balancer-scheme":"internet-facing"}},
"spec":{"type":"LoadBalancer","selector":{"app":"nginx-ec2nodegroup"},"ports":[{"port":8080,"targetPort":80}]}}`)
	harness.Eventually(t, 10*time.Second, "the freed address "+freed+" given to the next load balancer", func() bool {
		ip, _ := s.TryKubectl("get", "service", "again", "-n", "test1-ec2nodegroup", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		return ip == freed
	})
	// kube-proxy programs the address once it is in the Service's status, a
	// moment after.
	harness.Eventually(t, 5*time.Second, "nginx through the new load balancer's port 8080", func() bool {
		body, err := tryGet("http://" + freed + ":8080/")
		return err == nil && strings.Contains(body, "Welcome to nginx")
	})

	// Target type instance cannot reach Fargate pods, as on EKS: refused, saying why.
	s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"instance","namespace":"test2-fargate","annotations":{"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type":"instance"}},
"spec":{"type":"LoadBalancer","selector":{"app":"nginx-fargate-pod"},"ports":[{"port":80}]}}`)
	harness.Eventually(t, 20*time.Second, "a FailedDeployModel event on the instance-target Service", func() bool {
		out, _ := s.TryKubectl("get", "events", "-n", "test2-fargate", "--field-selector", "involvedObject.name=instance,reason=FailedDeployModel", "-o", "jsonpath={.items[*].message}")
		return strings.Contains(out, "target type instance cannot reach pods on Fargate nodes")
	})
	if ip := s.Kubectl("get", "service", "instance", "-n", "test2-fargate", "-o", "jsonpath={.status.loadBalancer.ingress}"); ip != "" {
		t.Errorf("an instance-target Service on Fargate got %s", ip)
	}
}

// answer is one request of a steady loop through a load balancer.
type answer struct {
	at   time.Time
	pod  string // the pod that answered, "" on an error
	fail error
}

// scaleUnderLoad scales a Fargate Deployment behind an internet-facing load
// balancer 2 → 0 → 2 while a loop sends it a request every 20 ms: once the old
// pods are gone no request is answered (none by a terminated pod), and once the
// new pods are Ready the load balancer answers again, from them only, with no
// failure later than 2 s after (kube-proxy following the EndpointSlices).
func scaleUnderLoad(t *testing.T, s *harness.Server, image string) {
	s.CreateManifest(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"steady","namespace":"test2-fargate"},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"steady"}},"template":{"metadata":{"labels":{"app":"steady"}},
"spec":{"terminationGracePeriodSeconds":2,"containers":[{"name":"web","image":"` + image + `","command":["/testserver","serve","--port","8080"],
"readinessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":1}}]}}}}`)
	s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"steady","namespace":"test2-fargate","annotations":{
"service.beta.kubernetes.io/aws-load-balancer-scheme":"internet-facing","service.beta.kubernetes.io/aws-load-balancer-nlb-target-type":"ip"}},
"spec":{"type":"LoadBalancer","selector":{"app":"steady"},"ports":[{"port":80,"targetPort":8080}]}}`)
	var ip string
	harness.Eventually(t, 10*time.Second, "the steady Service's address", func() bool {
		ip, _ = s.TryKubectl("get", "service", "steady", "-n", "test2-fargate", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		return ip != ""
	})
	ready := func(n string) func() bool {
		return func() bool {
			out, _ := s.TryKubectl("get", "deployment", "steady", "-n", "test2-fargate", "-o", "jsonpath={.status.readyReplicas}")
			return out == n || (n == "0" && out == "")
		}
	}
	harness.Eventually(t, 2*time.Minute, "steady 2/2 ready", ready("2"))
	pods := func() []string {
		out, _ := s.TryKubectl("get", "pods", "-n", "test2-fargate", "-l", "app=steady", "-o", "jsonpath={.items[*].metadata.name}")
		return strings.Fields(out)
	}
	old := pods()

	answers := make(chan answer, 10000)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() { // bounded: stops when told, or after two minutes
		defer close(stopped)
		c := &http.Client{Timeout: time.Second}
		for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			select {
			case <-done:
				return
			default:
			}
			at := time.Now()
			resp, err := c.Get("http://" + ip + "/hostname")
			if err != nil {
				answers <- answer{at: at, fail: err}
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- answer{at: at, pod: strings.TrimSpace(string(b))}
		}
	}()
	time.Sleep(time.Second)
	s.Kubectl("scale", "deployment", "steady", "-n", "test2-fargate", "--replicas", "0")
	harness.Eventually(t, time.Minute, "the old pods gone", func() bool { return len(pods()) == 0 })
	gone := time.Now()
	time.Sleep(2 * time.Second)
	s.Kubectl("scale", "deployment", "steady", "-n", "test2-fargate", "--replicas", "2")
	harness.Eventually(t, 2*time.Minute, "steady 2/2 ready again", ready("2"))
	readyAgain := time.Now()
	time.Sleep(3 * time.Second)
	close(done)
	<-stopped
	close(answers)

	fresh := pods()
	var before, between, after, afterFailed int
	var firstAfter time.Time
	for a := range answers {
		switch {
		case a.at.Before(gone):
			if a.pod != "" {
				before++
			}
		case a.at.Before(readyAgain.Add(-500 * time.Millisecond)):
			if a.pod != "" && slices.Contains(old, a.pod) {
				t.Errorf("at %s, after the old pods were gone, %s answered", a.at.Format(time.StampMilli), a.pod)
			}
			if a.pod != "" && !slices.Contains(fresh, a.pod) {
				t.Errorf("an unknown pod %q answered", a.pod)
			}
			between++
		default:
			if a.pod == "" {
				if a.at.After(readyAgain.Add(2 * time.Second)) {
					afterFailed++
					t.Logf("%s after Ready: %v", a.at.Sub(readyAgain), a.fail)
				}
				continue
			}
			if !slices.Contains(fresh, a.pod) {
				t.Errorf("after the scale-up %q answered, not one of the new pods %v", a.pod, fresh)
			}
			if firstAfter.IsZero() {
				firstAfter = a.at
			}
			after++
		}
	}
	t.Logf("scale 2 → 0 → 2 under load: %d answers before the old pods were gone, %d requests while none ran, %d answers from the new pods, the first %.2f s after both were Ready",
		before, between, after, firstAfter.Sub(readyAgain).Seconds())
	if before == 0 || after == 0 {
		t.Errorf("the load balancer answered %d times before scaling down and %d times once the new pods were Ready", before, after)
	}
	if afterFailed > 0 { // kube-proxy follows the endpoints within a second or so
		t.Errorf("%d requests failed more than 2 s after the new pods were Ready", afterFailed)
	}
}

// unreadyUnderLoad puts two testserver pods behind one load balancer with
// allocateLoadBalancerNodePorts false; one turns unready after 20 s. Under a
// loop of requests, each on a new connection, every request is answered, the
// unready pod answers none from 2 s after it is marked unready, and the
// Service has no NodePort.
func unreadyUnderLoad(t *testing.T, s *harness.Server, image string) {
	for _, d := range []struct{ name, args string }{{"stays", ""}, {"fades", `,"--healthy-for","20s"`}} {
		s.CreateManifest(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + d.name + `","namespace":"test2-fargate"},
"spec":{"replicas":1,"selector":{"matchLabels":{"app":"` + d.name + `"}},"template":{"metadata":{"labels":{"app":"` + d.name + `","mix":"yes"}},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"web","image":"` + image + `","command":["/testserver","serve","--port","8080"` + d.args + `],
"readinessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":1,"failureThreshold":1}}]}}}}`)
	}
	s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"mix","namespace":"test2-fargate","annotations":{
"service.beta.kubernetes.io/aws-load-balancer-scheme":"internet-facing","service.beta.kubernetes.io/aws-load-balancer-nlb-target-type":"ip"}},
"spec":{"type":"LoadBalancer","allocateLoadBalancerNodePorts":false,"selector":{"mix":"yes"},"ports":[{"port":80,"targetPort":8080}]}}`)
	var ip string
	harness.Eventually(t, 10*time.Second, "the mix Service's address", func() bool {
		ip, _ = s.TryKubectl("get", "service", "mix", "-n", "test2-fargate", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		return ip != ""
	})
	if np := s.Kubectl("get", "service", "mix", "-n", "test2-fargate", "-o", "jsonpath={.spec.ports[0].nodePort}"); np != "" {
		t.Errorf("allocateLoadBalancerNodePorts false, yet NodePort %s", np)
	}
	s.Kubectl("wait", "-n", "test2-fargate", "--for=condition=Ready", "pod", "-l", "mix=yes", "--timeout=1m")
	fades := s.Kubectl("get", "pods", "-n", "test2-fargate", "-l", "app=fades", "-o", "jsonpath={.items[0].metadata.name}")

	var unready time.Time
	answers := map[string]int{}
	late := 0 // answers from the unready pod over 2 s after it was marked so
	// A new connection per request: an unready endpoint keeps the connections
	// it has (conntrack) and gets no new ones.
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for end := time.Now().Add(40 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if unready.IsZero() {
			if out, _ := s.TryKubectl("get", "pod", fades, "-n", "test2-fargate", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); out == "False" {
				unready = time.Now()
				end = unready.Add(8 * time.Second)
			}
		}
		at := time.Now()
		resp, err := c.Get("http://" + ip + "/hostname")
		if err != nil {
			t.Fatalf("a request through the load balancer failed while one endpoint was ready: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pod := strings.TrimSpace(string(b))
		answers[pod]++
		if pod == fades && !unready.IsZero() && at.After(unready.Add(2*time.Second)) {
			late++
		}
	}
	t.Logf("one of two endpoints turning unready under load: answers %v, the unready one marked so at %s", answers, unready.Format(time.StampMilli))
	if unready.IsZero() {
		t.Fatalf("pod %s never turned unready", fades)
	}
	if answers[fades] == 0 || len(answers) != 2 {
		t.Errorf("answers %v: want both pods answering while ready", answers)
	}
	if late > 0 {
		t.Errorf("the unready pod answered %d requests more than 2 s after it was marked unready", late)
	}
}

// sourceRanges: a load balancer with loadBalancerSourceRanges answers a
// Fargate pod inside them and not the host (outside them) until the host's
// address is added, as kube-proxy's firewall chain does.
func sourceRanges(t *testing.T, s *harness.Server, busybox string) {
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"client","namespace":"test2-fargate"},
"spec":{"terminationGracePeriodSeconds":0,"containers":[{"name":"c","image":"` + busybox + `","command":["sleep","3600"]}]}}`)
	s.Kubectl("wait", "-n", "test2-fargate", "--for=condition=Ready", "pod/client", "--timeout=1m")
	clientIP := s.Kubectl("get", "pod", "client", "-n", "test2-fargate", "-o", "jsonpath={.status.podIP}")
	hostIP := s.Kubectl("get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes", "-o", "jsonpath={.items[0].endpoints[0].addresses[0]}")
	s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"ranged","namespace":"test2-fargate","annotations":{
"service.beta.kubernetes.io/aws-load-balancer-scheme":"internet-facing","service.beta.kubernetes.io/aws-load-balancer-nlb-target-type":"ip"}},
"spec":{"type":"LoadBalancer","loadBalancerSourceRanges":["` + clientIP + `/32"],"selector":{"app":"nginx-fargate-pod"},"ports":[{"port":80}]}}`)
	var ip string
	harness.Eventually(t, 10*time.Second, "the ranged Service's address", func() bool {
		ip, _ = s.TryKubectl("get", "service", "ranged", "-n", "test2-fargate", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		return ip != ""
	})
	harness.Eventually(t, 20*time.Second, "the pod in the source range answered", func() bool {
		out, err := s.TryKubectl("exec", "-n", "test2-fargate", "client", "--", "wget", "-qO-", "http://"+ip+"/")
		return err == nil && strings.Contains(out, "Welcome to nginx")
	})
	if body, err := tryGet("http://" + ip + "/"); err == nil {
		t.Errorf("the host, outside loadBalancerSourceRanges, got an answer: %.60q", body)
	}
	s.Kubectl("patch", "service", "ranged", "-n", "test2-fargate", "--type", "merge", "-p", `{"spec":{"loadBalancerSourceRanges":["`+clientIP+`/32","`+hostIP+`/32"]}}`)
	harness.Eventually(t, 20*time.Second, "the host answered once its address is in the source ranges", func() bool {
		body, err := tryGet("http://" + ip + "/")
		return err == nil && strings.Contains(body, "Welcome to nginx")
	})
}
