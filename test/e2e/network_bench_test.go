//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fargo-dev/fargo/internal/network/names"
	"github.com/fargo-dev/fargo/internal/network/netns"
	"github.com/fargo-dev/fargo/test/benchdoc"
	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// netBenchConfig has a public subnet for the load balancer and a private one
// for the Fargate pods; --fargate puts CoreDNS on Fargate too.
const netBenchConfig = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: netbench, region: ap-southeast-1}
vpc:
  subnets:
    public:
      ap-southeast-1a: { id: subnet-pub, cidr: 192.168.0.0/19 }
    private:
      ap-southeast-1a: { id: subnet-a, cidr: 192.168.96.0/19 }
`

const (
	loadWorkers  = 8
	loadDuration = 3 * time.Second
	dnsQueries   = 1000
)

// BenchmarkNetwork measures HTTP requests/s and p99 through a load balancer's
// address to two Fargate pods against requests straight to the pods' IPs, from
// the host, a new connection per request, in the same run; and DNS lookups from
// a Fargate pod's network namespace through the kube-dns Service address against
// a CoreDNS pod's IP.
func BenchmarkNetwork(b *testing.B) {
	requireRoot(b)
	img, err := images.TestServer(filepath.Join(harness.Root(), "bin", "testserver"))
	ref := images.Serve(b, "testserver", img, err)
	port := upstream(b)
	dataDir, cfg := clusterDir(b, "fargo-netbench-", netBenchConfig)
	args := append(harness.Without(harness.ServerArgs(b, dataDir), "--without-dns"), "--config", cfg, "--fargate", "--runtime", "containerd",
		"--host-name", "netbench", "--cpu-overcommit", "8", "--host-memory", "32Gi", "--dns-upstream", subnetRouter+":"+strconv.Itoa(port))
	s := harness.StartServerWith(b, args)
	s.CreateManifest(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"` + ref + `","command":["/testserver","serve","--port","8080"],"readinessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":1}}]}}}}`)
	s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default","annotations":{
"service.beta.kubernetes.io/aws-load-balancer-scheme":"internet-facing","service.beta.kubernetes.io/aws-load-balancer-nlb-target-type":"ip"}},
"spec":{"type":"LoadBalancer","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}}`)
	for _, d := range []string{"default/web", "kube-system/coredns"} {
		ns, name, _ := strings.Cut(d, "/")
		harness.Eventually(b, 3*time.Minute, d+" 2/2 ready", func() bool {
			out, _ := s.TryKubectl("get", "deployment", name, "-n", ns, "-o", "jsonpath={.status.readyReplicas}")
			return out == "2"
		})
	}
	lbIP := s.Kubectl("get", "service", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
	podIPs := strings.Fields(s.Kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"))
	dnsPod := strings.Fields(s.Kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[*].status.podIP}"))[0]
	harness.Eventually(b, 30*time.Second, "the load balancer answering", func() bool { _, err := tryGet("http://" + lbIP + "/"); return err == nil })

	var lbRate, directRate, lbP99, directP99 []float64
	var viaSvc, direct []float64
	for i := 0; i < b.N; i++ {
		r, p := load(b, []string{"http://" + lbIP + "/"})
		lbRate, lbP99 = append(lbRate, r), append(lbP99, p)
		r, p = load(b, []string{"http://" + podIPs[0] + ":8080/", "http://" + podIPs[1] + ":8080/"})
		directRate, directP99 = append(directRate, r), append(directP99, p)
		a, d := lookups(b, filepath.Join("/run/netns", "fargo-netbench_"+names.SandboxName(net.ParseIP(podIPs[0]))), "10.100.0.10", dnsPod)
		viaSvc, direct = append(viaSvc, a...), append(direct, d...)
	}
	ratio := benchdoc.Median(lbRate) / benchdoc.Median(directRate)
	b.ReportMetric(benchdoc.Median(lbRate), "lb-req/s")
	b.ReportMetric(ratio, "lb÷direct")
	b.Logf("load balancer %s req/s (p99 %s ms), direct %s req/s (p99 %s ms): %.2f×; DNS via Service p50 %.3f p99 %.3f ms, pod IP p50 %.3f p99 %.3f ms",
		benchdoc.Spread(lbRate), benchdoc.Spread(lbP99), benchdoc.Spread(directRate), benchdoc.Spread(directP99), ratio,
		percentile(viaSvc, 50), percentile(viaSvc, 99), percentile(direct, 50), percentile(direct, 99))
	if doc := benchdoc.Path(); doc != "" {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s on %d cores, %d run(s); HTTP: %d workers for %s each way, a new connection per request; median (min–max) of the runs.\n\n",
			time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), b.N, loadWorkers, loadDuration)
		sec.WriteString("| path | requests/s | p99 ms | ratio to direct | target |\n|---|---|---|---|---|\n")
		fmt.Fprintf(&sec, "| load balancer address (kube-proxy) → 2 Fargate pods | %s | %s | %.2f× | ≥ 0.95× |\n", benchdoc.Spread(lbRate), benchdoc.Spread(lbP99), ratio)
		fmt.Fprintf(&sec, "| baseline: the pods' IPs directly | %s | %s | 1× | |\n\n", benchdoc.Spread(directRate), benchdoc.Spread(directP99))
		fmt.Fprintf(&sec, "DNS from a Fargate pod's network namespace, %d A lookups of kubernetes.default.svc.cluster.local each way per run, one at a time (CoreDNS on Fargate):\n\n", dnsQueries)
		sec.WriteString("| path | p50 ms | p99 ms |\n|---|---|---|\n")
		fmt.Fprintf(&sec, "| kube-dns Service address 10.100.0.10 | %.3f | %.3f |\n", percentile(viaSvc, 50), percentile(viaSvc, 99))
		fmt.Fprintf(&sec, "| baseline: a CoreDNS pod's IP | %.3f | %.3f |\n", percentile(direct, 50), percentile(direct, 99))
		if err := benchdoc.ReplaceSection(doc, "bench-network", sec.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// load sends GETs to urls (in turn) from loadWorkers workers for loadDuration,
// each on a new connection, and returns requests/s and the p99 in ms.
func load(b *testing.B, urls []string) (float64, float64) {
	var mu sync.Mutex
	var lat []float64
	failed := 0
	end := time.Now().Add(loadDuration)
	var wg sync.WaitGroup
	for w := 0; w < loadWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for i := w; time.Now().Before(end); i++ {
				start := time.Now()
				resp, err := c.Get(urls[i%len(urls)])
				if err == nil {
					resp.Body.Close()
				}
				d := time.Since(start).Seconds() * 1000
				mu.Lock()
				if err != nil {
					failed++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed > 0 {
		b.Errorf("%d of %d requests to %v failed", failed, failed+len(lat), urls)
	}
	return float64(len(lat)) / loadDuration.Seconds(), percentile(lat, 99)
}

// lookups times dnsQueries A lookups from inside the network namespace at
// netnsPath to the Service address and to the pod's, alternating, in ms.
func lookups(b *testing.B, netnsPath, svc, pod string) (viaSvc, direct []float64) {
	var conns [2]*dns.Conn
	err := netns.Do(netnsPath, func() error { // sockets made inside stay there
		for i, addr := range []string{svc, pod} {
			c, err := dns.Dial("udp", net.JoinHostPort(addr, "53"))
			if err != nil {
				return err
			}
			conns[i] = c
		}
		return nil
	})
	if err != nil {
		b.Fatalf("opening DNS sockets in %s: %v", netnsPath, err)
	}
	client := &dns.Client{Timeout: 2 * time.Second}
	q := new(dns.Msg)
	q.SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA)
	for i := 0; i < dnsQueries; i++ {
		for j, c := range conns {
			q.Id = dns.Id()
			r, rtt, err := client.ExchangeWithConn(q, c)
			if err != nil || len(r.Answer) == 0 {
				b.Fatalf("lookup via %s: %v %v", []string{svc, pod}[j], err, r)
			}
			ms := rtt.Seconds() * 1000
			if j == 0 {
				viaSvc = append(viaSvc, ms)
			} else {
				direct = append(direct, ms)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
	return viaSvc, direct
}
