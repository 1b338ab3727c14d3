//go:build e2e

package e2e

import (
	"fmt"
	"io"
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

	// Per mode (keep-alive, new connection per request) and path (lb, direct).
	rate, p99, failed := map[string][]float64{}, map[string][]float64{}, map[string]int{}
	var viaSvc, direct []float64
	lbURLs := []string{"http://" + lbIP + "/"}
	podURLs := []string{"http://" + podIPs[0] + ":8080/", "http://" + podIPs[1] + ":8080/"}
	for i := 0; i < b.N; i++ {
		// A B B A, so that neither path has the machine's drift to itself.
		for _, keepAlive := range []bool{true, false} {
			for _, lb := range []bool{true, false, false, true} {
				urls, key := podURLs, mode(keepAlive)+"/direct"
				if lb {
					urls, key = lbURLs, mode(keepAlive)+"/lb"
				}
				r, p, n := load(b, urls, keepAlive)
				rate[key], p99[key] = append(rate[key], r), append(p99[key], p)
				failed[key] += n
			}
		}
		a, d := lookups(b, filepath.Join("/run/netns", "fargo-netbench_"+names.SandboxName(net.ParseIP(podIPs[0]))), "10.100.0.10", dnsPod)
		viaSvc, direct = append(viaSvc, a...), append(direct, d...)
	}
	ratio := func(m string) float64 { return benchdoc.Median(rate[m+"/lb"]) / benchdoc.Median(rate[m+"/direct"]) }
	b.ReportMetric(benchdoc.Median(rate["keep-alive/lb"]), "lb-req/s")
	b.ReportMetric(ratio("keep-alive"), "lb÷direct")
	for _, m := range []string{"keep-alive", "new connection"} {
		b.Logf("%s: load balancer %s req/s (p99 %s ms), direct %s req/s (p99 %s ms): %.2f×", m, benchdoc.Spread(rate[m+"/lb"]), benchdoc.Spread(p99[m+"/lb"]),
			benchdoc.Spread(rate[m+"/direct"]), benchdoc.Spread(p99[m+"/direct"]), ratio(m))
	}
	b.Logf("DNS via Service p50 %.3f p99 %.3f ms, pod IP p50 %.3f p99 %.3f ms", percentile(viaSvc, 50), percentile(viaSvc, 99), percentile(direct, 50), percentile(direct, 99))
	if doc := benchdoc.Path(); doc != "" {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s on %d cores, %d run(s); HTTP: %d workers for %s at a time, with keep-alive connections (as load tools such as wrk and hey measure) and with a new connection per request (every request through the address translation), the two paths in the order A B B A per run; median (min–max) of the slices.\n\n",
			time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), b.N, loadWorkers, loadDuration)
		sec.WriteString("| connections | path | requests/s | p99 ms | failed requests | ratio to direct | target |\n|---|---|---|---|---|---|---|\n")
		for _, m := range []string{"keep-alive", "new connection"} {
			target := ""
			if m == "keep-alive" {
				target = "≥ 0.95×"
			}
			fmt.Fprintf(&sec, "| %s | load balancer address (kube-proxy) → 2 Fargate pods | %s | %s | %d | %.2f× | %s |\n", m, benchdoc.Spread(rate[m+"/lb"]), benchdoc.Spread(p99[m+"/lb"]), failed[m+"/lb"], ratio(m), target)
			fmt.Fprintf(&sec, "| %s | baseline: the pods' IPs directly | %s | %s | %d | 1× | |\n", m, benchdoc.Spread(rate[m+"/direct"]), benchdoc.Spread(p99[m+"/direct"]), failed[m+"/direct"])
		}
		sec.WriteString("\n")
		fmt.Fprintf(&sec, "DNS from a Fargate pod's network namespace, %d A lookups of kubernetes.default.svc.cluster.local each way per run, one at a time (CoreDNS on Fargate):\n\n", dnsQueries)
		sec.WriteString("| path | p50 ms | p99 ms |\n|---|---|---|\n")
		fmt.Fprintf(&sec, "| kube-dns Service address 10.100.0.10 | %.3f | %.3f |\n", percentile(viaSvc, 50), percentile(viaSvc, 99))
		fmt.Fprintf(&sec, "| baseline: a CoreDNS pod's IP | %.3f | %.3f |\n", percentile(direct, 50), percentile(direct, 99))
		if err := benchdoc.ReplaceSection(doc, "bench-network", sec.String()); err != nil {
			b.Fatal(err)
		}
	}
}

// load sends GETs to urls (one per worker, in turn) from loadWorkers workers for loadDuration,
// each worker on its own connections (kept alive, or a new one per request), and returns answered requests/s, the p99 in ms and
// how many failed (more than one in a hundred fails the benchmark).
func load(b *testing.B, urls []string, keepAlive bool) (float64, float64, int) {
	var mu sync.Mutex
	var lat []float64
	failed, firstErr := 0, error(nil)
	end := time.Now().Add(loadDuration)
	var wg sync.WaitGroup
	for w := 0; w < loadWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 2}}
			url := urls[w%len(urls)] // half the workers on each pod, as the load balancer spreads connections
			for time.Now().Before(end) {
				start := time.Now()
				resp, err := c.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(start).Seconds() * 1000
				mu.Lock()
				if err != nil {
					if failed == 0 {
						firstErr = err
					}
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
		b.Logf("%d of %d requests to %v failed, the first: %v", failed, failed+len(lat), urls, firstErr)
	}
	if failed*100 > failed+len(lat) {
		b.Errorf("more than 1 in 100 requests to %v failed", urls)
	}
	return float64(len(lat)) / loadDuration.Seconds(), percentile(lat, 99), failed
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

func mode(keepAlive bool) string {
	if keepAlive {
		return "keep-alive"
	}
	return "new connection"
}
