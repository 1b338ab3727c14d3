//go:build e2e

package e2e

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// dnsConfig is a mixed cluster over two subnets: one node-group node in
// subnet-a, a Fargate profile for namespace fg in subnet-b.
const dnsConfig = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: dns, region: ap-southeast-1}
vpc:
  subnets:
    private:
      ap-southeast-1a: { id: subnet-a, cidr: 192.168.96.0/19 }
      ap-southeast-1b: { id: subnet-b, cidr: 192.168.128.0/19 }
managedNodeGroups:
  - name: ng
    instanceType: m5.large
    desiredCapacity: 1
    subnets: [subnet-a]
fargateProfiles:
  - name: fp-fg
    subnets: [subnet-b]
    selectors:
      - namespace: fg
`

// subnetRouter is the subnet's router, the host end of every pod's veth: a
// resolver the test runs on the host answers there, so that no query leaves
// the machine.
const subnetRouter = "192.168.96.1"

// upstream answers upstream.test. with 192.0.2.7 and everything else with
// NXDOMAIN, on UDP port it returns, on every host address.
func upstream(t testing.TB) int {
	pc, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && q.Question[0].Name == "upstream.test." && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("upstream.test. 30 IN A 192.0.2.7")
			m.Answer = append(m.Answer, rr)
		} else if len(q.Question) == 1 && q.Question[0].Name != "upstream.test." {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// Cluster DNS as EKS ships it, on the node group: Fargate and node-group pods
// resolve Services, headless Services and pod A records, reach a Service on
// the other kind of node by name, see a new Service within seconds, and have
// other names forwarded upstream. Pods of either kind reach each other by pod
// IP across subnets with no NAT. ClusterIP and NodePort Services answer the
// host and both kinds of pod; an edit to the Corefile takes effect without a
// restart; a Fargate profile for CoreDNS made afterwards moves it to Fargate.
func TestClusterDNS(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	busybox := images.Serve(t, "busybox", img, err)
	img, err = images.Nginx(filepath.Join(harness.Root(), "bin", "image-cache", "nginx"))
	nginx := images.Serve(t, "nginx", img, err)
	img, err = images.TestServer(filepath.Join(harness.Root(), "bin", "testserver"))
	testserver := images.Serve(t, "testserver", img, err)
	port := upstream(t)

	dataDir, cfg := harness.ClusterDir(t, "fargo-dns-", dnsConfig)
	args := append(harness.Without(harness.ServerArgs(t, dataDir), "--without-dns"), "--config", cfg, "--runtime", "containerd",
		"--host-name", "dns", "--cpu-overcommit", "8", "--host-memory", "32Gi", "--dns-upstream", subnetRouter+":"+strconv.Itoa(port))
	s := harness.StartServerWith(t, args)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.TryKubectl("get", "pods", "-A", "-o", "wide")
			logs, _ := s.TryKubectl("logs", "-n", "kube-system", "-l", "k8s-app=kube-dns", "--tail", "20")
			t.Logf("%s\ncoredns:\n%s\nserver output:\n%s", out, logs, harness.Tail(s.Output(), 30))
		}
	})
	if out := s.Output(); !strings.Contains(out, "CoreDNS kube-system/coredns on the node groups, Service kube-dns at 10.100.0.10") {
		t.Errorf("start-up output does not say where the cluster DNS runs:\n%s", out)
	}
	harness.Eventually(t, 2*time.Minute, "coredns 2/2 available", func() bool {
		out, _ := s.TryKubectl("get", "deployment", "coredns", "-n", "kube-system", "-o", "jsonpath={.status.availableReplicas}")
		return out == "2"
	})
	if out := s.Kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}"); strings.Contains(out, "fargate-") || strings.Count(out, "ip-192-168-") != 2 {
		t.Errorf("CoreDNS pods on %q, want both on the node group", out)
	}
	if out := s.Kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}"); out != "10.100.0.10" {
		t.Errorf("kube-dns at %s, want 10.100.0.10", out)
	}
	// An edit to the Corefile, as a user makes it: checked at the end, since
	// the ConfigMap reaches the pods' volume within about a minute and the
	// reload plugin then picks it up within its 30 s.
	editCorefile(t, s)
	edited := time.Now()

	for _, ns := range []string{"demo", "fg"} {
		s.Kubectl("create", "namespace", ns)
		harness.Eventually(t, 30*time.Second, "service account in "+ns, func() bool { _, err := s.TryKubectl("get", "sa", "default", "-n", ns); return err == nil })
		s.CreateManifest(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"nginx","namespace":"` + ns + `"},
"spec":{"replicas":1,"selector":{"matchLabels":{"app":"nginx"}},"template":{"metadata":{"labels":{"app":"nginx"}},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"nginx","image":"` + nginx + `","ports":[{"containerPort":80}]}]}}}}`)
		s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"nginx","namespace":"` + ns + `"},"spec":{"selector":{"app":"nginx"},"ports":[{"port":80}]}}`)
		s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"nginx-headless","namespace":"` + ns + `"},"spec":{"clusterIP":"None","selector":{"app":"nginx"},"ports":[{"port":80}]}}`)
		s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"client","namespace":"` + ns + `"},
"spec":{"terminationGracePeriodSeconds":0,"containers":[{"name":"c","image":"` + busybox + `","command":["sleep","3600"]}]}}`)
	}
	for _, ns := range []string{"demo", "fg"} {
		s.Kubectl("wait", "-n", ns, "--for=condition=Ready", "pod", "--all", "--timeout=2m")
	}
	if node := s.Kubectl("get", "pod", "client", "-n", "fg", "-o", "jsonpath={.spec.nodeName}"); !strings.HasPrefix(node, "fargate-ip-") {
		t.Fatalf("fg/client on %s, not Fargate", node)
	}

	for _, c := range []struct{ from, to string }{{"fg", "demo"}, {"demo", "fg"}} {
		svcIP := s.Kubectl("get", "service", "nginx", "-n", c.to, "-o", "jsonpath={.spec.clusterIP}")
		podIP := s.Kubectl("get", "pods", "-n", c.to, "-l", "app=nginx", "-o", "jsonpath={.items[0].status.podIP}")
		exec := func(cmd ...string) (string, error) {
			return s.TryKubectl(append([]string{"exec", "-n", c.from, "client", "--"}, cmd...)...)
		}
		// busybox's nslookup asks for the name as given (no search path);
		// wget resolves through the search path, as applications do.
		checks := []struct {
			what string
			cmd  []string
			want string
		}{
			{"a Service", []string{"nslookup", "nginx." + c.to + ".svc.cluster.local"}, svcIP},
			{"a headless Service's pod", []string{"nslookup", "nginx-headless." + c.to + ".svc.cluster.local"}, podIP},
			{"a pod A record", []string{"nslookup", strings.ReplaceAll(podIP, ".", "-") + "." + c.to + ".pod.cluster.local"}, podIP},
			{"a name outside the cluster, forwarded", []string{"nslookup", "upstream.test"}, "192.0.2.7"},
			{"nginx on the other kind of node, by name", []string{"wget", "-qO-", "http://nginx." + c.to}, "nginx"},
		}
		for _, ch := range checks {
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
				out, err := exec(ch.cmd...)
				if err == nil && strings.Contains(out, ch.want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("from %s, %s (%s): want %s in the output, got %v:\n%s", c.from, ch.what, strings.Join(ch.cmd, " "), ch.want, err, out)
				}
			}
		}
	}

	checkNoNAT(t, s, testserver)
	checkServicesFromEverywhere(t, s)

	// A Service made now resolves within seconds (CoreDNS watches the API).
	s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"late","namespace":"demo"},"spec":{"selector":{"app":"nginx"},"ports":[{"port":8080,"targetPort":80}]}}`)
	lateIP := s.Kubectl("get", "service", "late", "-n", "demo", "-o", "jsonpath={.spec.clusterIP}")
	start := time.Now()
	harness.Eventually(t, 10*time.Second, "a new Service resolving", func() bool {
		out, err := s.TryKubectl("exec", "-n", "fg", "client", "--", "nslookup", "late.demo.svc.cluster.local")
		return err == nil && strings.Contains(out, lateIP)
	})
	t.Logf("a new Service resolved after %.1f s", time.Since(start).Seconds())

	harness.Eventually(t, 3*time.Minute, "the Corefile edit taking effect", func() bool {
		out, err := s.TryKubectl("exec", "-n", "fg", "client", "--", "nslookup", "corefile-edit.test")
		return err == nil && strings.Contains(out, "192.0.2.99")
	})
	t.Logf("the Corefile edit took effect %.0f s after it was made", time.Since(edited).Seconds())

	// A profile for CoreDNS made now moves it to Fargate, as eksctl create
	// fargateprofile does, and names still resolve.
	out, err := exec.Command(harness.Bin(t, "fargo"), "create", "fargateprofile", "--cluster", "dns", "--kubeconfig", s.Kubeconfig(),
		"--name", "fp-coredns", "--namespace", "kube-system", "--labels", "k8s-app=kube-dns", "--timeout", "3m").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"coredns" pods are now scheduled onto Fargate`) {
		t.Fatalf("fargo create fargateprofile for CoreDNS: %v\n%s", err, out)
	}
	nodes := s.Kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "--field-selector", "status.phase=Running", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}")
	if strings.Count(nodes, "fargate-ip-") != 2 || strings.Count(nodes, "\n") != 2 {
		t.Errorf("CoreDNS pods on %q after the profile, want both on Fargate", nodes)
	}
	for _, ns := range []string{"fg", "demo"} {
		harness.Eventually(t, 30*time.Second, "a Service resolving from "+ns+" with CoreDNS on Fargate", func() bool {
			out, err := s.TryKubectl("exec", "-n", ns, "client", "--", "nslookup", "late.demo.svc.cluster.local")
			return err == nil && strings.Contains(out, lateIP)
		})
	}
}

// editCorefile adds a hosts entry to the coredns ConfigMap's Corefile.
func editCorefile(t *testing.T, s *harness.Server) {
	ctx := context.Background()
	cms := s.Client().CoreV1().ConfigMaps("kube-system")
	cm, err := cms.Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hosts := "    hosts /etc/coredns-lb/hosts {\n"
	if !strings.Contains(cm.Data["Corefile"], hosts) {
		t.Fatalf("the Corefile has no hosts block:\n%s", cm.Data["Corefile"])
	}
	cm.Data["Corefile"] = strings.Replace(cm.Data["Corefile"], hosts, hosts+"        192.0.2.99 corefile-edit.test\n", 1)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// checkNoNAT runs a testserver pod in demo (node group, subnet-a) and fg
// (Fargate, subnet-b); each client reaches the other kind's by pod IP and is
// seen from its own pod IP: across subnets with no NAT.
func checkNoNAT(t *testing.T, s *harness.Server, image string) {
	_, a, _ := net.ParseCIDR("192.168.96.0/19")
	_, b, _ := net.ParseCIDR("192.168.128.0/19")
	subnet := map[string]*net.IPNet{"demo": a, "fg": b}
	for _, ns := range []string{"demo", "fg"} {
		s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"echo","namespace":"` + ns + `"},
"spec":{"terminationGracePeriodSeconds":0,"containers":[{"name":"c","image":"` + image + `","command":["/testserver","serve","--port","8080"]}]}}`)
	}
	for _, c := range []struct{ from, to string }{{"fg", "demo"}, {"demo", "fg"}} {
		s.Kubectl("wait", "-n", c.to, "--for=condition=Ready", "pod/echo", "--timeout=1m")
		echoIP := s.Kubectl("get", "pod", "echo", "-n", c.to, "-o", "jsonpath={.status.podIP}")
		clientIP := s.Kubectl("get", "pod", "client", "-n", c.from, "-o", "jsonpath={.status.podIP}")
		if !subnet[c.to].Contains(net.ParseIP(echoIP)) || !subnet[c.from].Contains(net.ParseIP(clientIP)) {
			t.Errorf("pods outside their subnets: %s/echo %s, %s/client %s", c.to, echoIP, c.from, clientIP)
		}
		out, err := s.TryKubectl("exec", "-n", c.from, "client", "--", "wget", "-qO-", "http://"+echoIP+":8080/remote")
		if err != nil || strings.TrimSpace(out) != clientIP {
			t.Errorf("%s/client (%s) → %s/echo (%s): seen from %q (%v), want the client's own IP", c.from, clientIP, c.to, echoIP, out, err)
		}
	}
}

// checkServicesFromEverywhere reaches nginx in demo (node group) and fg
// (Fargate) through their ClusterIPs and a NodePort, from the host and from
// the client pods in both namespaces.
func checkServicesFromEverywhere(t *testing.T, s *harness.Server) {
	hostIP := s.Kubectl("get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes", "-o", "jsonpath={.items[0].endpoints[0].addresses[0]}")
	var urls []string
	for _, ns := range []string{"demo", "fg"} {
		s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"nginx-np","namespace":"` + ns + `"},"spec":{"type":"NodePort","selector":{"app":"nginx"},"ports":[{"port":80}]}}`)
		port := s.Kubectl("get", "service", "nginx-np", "-n", ns, "-o", "jsonpath={.spec.ports[0].nodePort}")
		svcIP := s.Kubectl("get", "service", "nginx", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")
		urls = append(urls, "http://"+svcIP+"/", "http://"+hostIP+":"+port+"/")
	}
	for _, url := range urls {
		harness.Eventually(t, 20*time.Second, url+" from the host", func() bool {
			body, err := tryGet(url)
			return err == nil && strings.Contains(body, "nginx")
		})
		for _, from := range []string{"demo", "fg"} {
			harness.Eventually(t, 20*time.Second, url+" from a pod in "+from, func() bool {
				out, err := s.TryKubectl("exec", "-n", from, "client", "--", "wget", "-qO-", url)
				return err == nil && strings.Contains(out, "nginx")
			})
		}
	}
}

// With `--fargate` (profile fp-default for default and kube-system, as eksctl
// create cluster --fargate makes) CoreDNS runs on Fargate, annotated
// compute-type: fargate as eksctl patches it, and answers a Fargate pod.
func TestClusterDNSOnFargate(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	busybox := images.Serve(t, "busybox", img, err)
	port := upstream(t)
	dataDir, cfg := harness.ClusterDir(t, "fargo-dnsfg-", `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: dnsfg, region: ap-southeast-1}
vpc:
  subnets:
    private:
      ap-southeast-1a: { id: subnet-a, cidr: 192.168.96.0/19 }
`)
	args := append(harness.Without(harness.ServerArgs(t, dataDir), "--without-dns"), "--config", cfg, "--fargate", "--runtime", "containerd",
		"--host-name", "dnsfg", "--cpu-overcommit", "8", "--host-memory", "32Gi", "--dns-upstream", subnetRouter+":"+strconv.Itoa(port))
	s := harness.StartServerWith(t, args)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.TryKubectl("get", "pods", "-A", "-o", "wide")
			ev, _ := s.TryKubectl("get", "events", "-n", "kube-system")
			t.Logf("%s\n%s\nserver output:\n%s", out, ev, harness.Tail(s.Output(), 30))
		}
	})
	if out := s.Output(); !strings.Contains(out, "CoreDNS kube-system/coredns on Fargate (profile fp-default)") {
		t.Errorf("start-up output does not say CoreDNS runs on Fargate:\n%s", out)
	}
	harness.Eventually(t, 2*time.Minute, "coredns 2/2 available", func() bool {
		out, _ := s.TryKubectl("get", "deployment", "coredns", "-n", "kube-system", "-o", "jsonpath={.status.availableReplicas}")
		return out == "2"
	})
	out := s.Kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o",
		`jsonpath={range .items[*]}{.spec.nodeName} {.metadata.annotations.CapacityProvisioned}{"\n"}{end}`)
	if strings.Count(out, "fargate-ip-") != 2 || strings.Count(out, "0.25vCPU 0.5GB") != 2 {
		t.Errorf("CoreDNS pods: %q, want both on Fargate nodes at 0.25vCPU 0.5GB", out)
	}
	if got := s.Kubectl("get", "deployment", "coredns", "-n", "kube-system", "-o", `jsonpath={.spec.template.metadata.annotations.eks\.amazonaws\.com/compute-type}`); got != "fargate" {
		t.Errorf("compute-type annotation %q, want fargate", got)
	}
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"client","namespace":"default"},
"spec":{"terminationGracePeriodSeconds":0,"containers":[{"name":"c","image":"` + busybox + `","command":["sleep","3600"]}]}}`)
	s.Kubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=2m")
	harness.Eventually(t, 20*time.Second, "kubernetes.default resolving from a Fargate pod", func() bool {
		out, err := s.TryKubectl("exec", "client", "--", "nslookup", "kubernetes.default.svc.cluster.local")
		return err == nil && strings.Contains(out, "10.100.0.1")
	})
}
