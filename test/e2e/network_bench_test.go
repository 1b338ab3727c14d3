//go:build e2e

package e2e

import (
	"bufio"
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
	loadWorkers  = 16
	loadDuration = 1500 * time.Millisecond
	loadPairs    = 6
	dnsQueries   = 1000
)

// BenchmarkNetwork measures HTTP requests/s and p99 through a load balancer's
// address to two Fargate pods (2 vCPU each, so that the host, not a pod's
// quota, is what runs out) against requests straight to the pods' IPs in the
// same run, from a third Fargate pod's network namespace and from the host,
// with keep-alive connections and a new connection per request; and DNS
// lookups from a Fargate pod's network namespace through the kube-dns Service
// address against a CoreDNS pod's IP.
func BenchmarkNetwork(b *testing.B) {
	harness.RequireRoot(b)
	img, err := images.TestServer(filepath.Join(harness.Root(), "bin", "testserver"))
	ref := images.Serve(b, "testserver", img, err)
	port := upstream(b)
	dataDir, cfg := harness.ClusterDir(b, "fargo-netbench-", netBenchConfig)
	args := append(harness.Without(harness.ServerArgs(b, dataDir), "--without-dns"), "--config", cfg, "--fargate", "--runtime", "containerd",
		"--host-name", "netbench", "--cpu-overcommit", "8", "--host-memory", "32Gi", "--dns-upstream", subnetRouter+":"+strconv.Itoa(port))
	s := harness.StartServerWith(b, args)
	s.CreateManifest(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"` + ref + `","command":["/testserver","serve","--port","8080"],"resources":{"requests":{"cpu":"2"}},"readinessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":1}}]}}}}`)
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
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"client","namespace":"default"},
"spec":{"terminationGracePeriodSeconds":0,"containers":[{"name":"c","image":"` + ref + `","command":["/testserver","sleep","1h"]}]}}`)
	s.Kubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=2m")
	clientIP := s.Kubectl("get", "pod", "client", "-o", "jsonpath={.status.podIP}")
	dnsPod := strings.Fields(s.Kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[*].status.podIP}"))[0]
	harness.Eventually(b, 30*time.Second, "the load balancer answering", func() bool { _, err := tryGet("http://" + lbIP + "/"); return err == nil })

	clientNetns := sandboxNetns(clientIP)

	// Per client (host, pod), connections (keep-alive, new per request) and
	// path (lb, direct).
	rate, p99, failed := map[string][]float64{}, map[string][]float64{}, map[string]int{}
	ratios := map[string][]float64{} // per pair of neighbouring slices, lb ÷ direct
	var viaSvc, direct []float64
	lbAddrs := []string{lbIP + ":80"}
	podAddrs := []string{podIPs[0] + ":8080", podIPs[1] + ":8080"}
	for i := 0; i < b.N; i++ {
		for _, from := range netClients {
			ns := ""
			if from == fromPod {
				ns = clientNetns
			}
			for _, keepAlive := range []bool{true, false} {
				// Pairs of neighbouring slices, in the order A B, B A, A B, ...:
				// each pair's ratio sees the same machine, whatever it drifts to.
				for pair := 0; pair < loadPairs; pair++ {
					got := map[bool]float64{}
					for _, lb := range []bool{pair%2 == 0, pair%2 != 0} {
						addrs := podAddrs
						if lb {
							addrs = lbAddrs
						}
						key := netKey(from, keepAlive, lb)
						r, p, n := load(b, ns, addrs, keepAlive)
						rate[key], p99[key] = append(rate[key], r), append(p99[key], p)
						failed[key] += n
						got[lb] = r
					}
					k := netKey(from, keepAlive, true)
					ratios[k] = append(ratios[k], got[true]/got[false])
				}
			}
		}
		a, d := lookups(b, clientNetns, "10.100.0.10", dnsPod)
		viaSvc, direct = append(viaSvc, a...), append(direct, d...)
	}
	ratio := func(from string, keepAlive bool) float64 {
		return benchdoc.Median(ratios[netKey(from, keepAlive, true)])
	}
	b.ReportMetric(benchdoc.Median(rate[netKey(fromPod, true, true)]), "lb-req/s")
	b.ReportMetric(ratio(fromPod, true), "lb÷direct")
	for _, from := range netClients {
		for _, keepAlive := range []bool{true, false} {
			lb, d := netKey(from, keepAlive, true), netKey(from, keepAlive, false)
			b.Logf("from %s, %s: load balancer %s req/s (p99 %s ms), direct %s req/s (p99 %s ms): %s×", from, mode(keepAlive), benchdoc.Spread(rate[lb]), benchdoc.Spread(p99[lb]),
				benchdoc.Spread(rate[d]), benchdoc.Spread(p99[d]), benchdoc.Spread(ratios[lb]))
		}
	}
	b.Logf("DNS via Service p50 %.3f p99 %.3f ms, pod IP p50 %.3f p99 %.3f ms", percentile(viaSvc, 50), percentile(viaSvc, 99), percentile(direct, 50), percentile(direct, 99))
	if doc := benchdoc.Path(); doc != "" {
		var sec strings.Builder
		fmt.Fprintf(&sec, "Measured %s on %d cores, %d run(s); HTTP: %d workers for %s at a time, with keep-alive connections (as load tools such as wrk and hey measure) and with a new connection per request (every request through the address translation); %d pairs of neighbouring slices (load balancer, direct) per run, in the order A B, B A, ...; requests/s and p99: median (min–max) of the slices; ratio: median (min–max) of the pairs' ratios.\n\n",
			time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), b.N, loadWorkers, loadDuration, loadPairs)
		sec.WriteString("| client | connections | path | requests/s | p99 ms | failed requests | ratio to direct | target |\n|---|---|---|---|---|---|---|---|\n")
		for _, from := range netClients {
			for _, keepAlive := range []bool{true, false} {
				target := ""
				if from == fromPod && keepAlive {
					target = "≥ 0.95×"
				}
				lb, d := netKey(from, keepAlive, true), netKey(from, keepAlive, false)
				fmt.Fprintf(&sec, "| %s | %s | load balancer address (kube-proxy) → 2 Fargate pods | %s | %s | %d | %s× | %s |\n", from, mode(keepAlive), benchdoc.Spread(rate[lb]), benchdoc.Spread(p99[lb]), failed[lb], benchdoc.Spread(ratios[lb]), target)
				fmt.Fprintf(&sec, "| %s | %s | baseline: the pods' IPs directly | %s | %s | %d | 1× | |\n", from, mode(keepAlive), benchdoc.Spread(rate[d]), benchdoc.Spread(p99[d]), failed[d])
			}
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

// Where the load comes from: the host, as the world outside the VPC (its
// packets to the load balancer's address are translated on their way out, and
// rerouted each), or a Fargate pod's network namespace, as a client in the
// VPC (its packets are translated as they enter the host, like those arriving
// at a node).
const (
	fromHost = "host"
	fromPod  = "Fargate pod"
)

var netClients = []string{fromPod, fromHost}

func netKey(from string, keepAlive, lb bool) string {
	return fmt.Sprintf("%s/%s/%v", from, mode(keepAlive), lb)
}

// sandboxNetns is the network namespace of the bench's sandbox at ip.
func sandboxNetns(ip string) string {
	return filepath.Join("/run/netns", "fargo-netbench_"+names.SandboxName(net.ParseIP(ip)))
}

// load sends GETs to addrs (host:port, one per worker, in turn) from
// loadWorkers workers for loadDuration, each on its own connection (kept alive,
// or a new one per request) made inside the network namespace at nsPath (""
// for the host's), and returns answered requests/s, the p99 in ms and how many
// failed (more than one in a hundred fails the benchmark).
func load(b *testing.B, nsPath string, addrs []string, keepAlive bool) (float64, float64, int) {
	var mu sync.Mutex
	var lat []float64
	failed, firstErr := 0, error(nil)
	end := time.Now().Add(loadDuration)
	var wg sync.WaitGroup
	for w := 0; w < loadWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// half the workers on each pod, as the load balancer spreads connections
			worker(b, nsPath, addrs[w%len(addrs)], keepAlive, end, func(ms float64, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if failed == 0 {
						firstErr = err
					}
					failed++
					return
				}
				lat = append(lat, ms)
			})
		}()
	}
	wg.Wait()
	if failed*100 > failed+len(lat) {
		b.Errorf("%d of %d requests to %v failed (more than 1 in 100), the first: %v", failed, failed+len(lat), addrs, firstErr)
	}
	return float64(len(lat)) / loadDuration.Seconds(), percentile(lat, 99), failed
}

// worker sends GET / to addr until end and records each request's time, from
// the host or, with nsPath set, from inside that network namespace (netns.Do:
// its sockets are made there, and its thread goes back to the host's
// namespace after, or a namespace the thread died in would live on with its
// veth). HTTP/1.1 by hand, so that the client costs the same little on every
// path.
func worker(b *testing.B, nsPath, addr string, keepAlive bool, end time.Time, record func(ms float64, err error)) {
	if nsPath != "" {
		if err := netns.Do(nsPath, func() error { worker(b, "", addr, keepAlive, end, record); return nil }); err != nil {
			b.Error(err)
		}
		return
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	if !keepAlive {
		req = "GET / HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"
	}
	var conn net.Conn
	var br *bufio.Reader
	for time.Now().Before(end) {
		start := time.Now()
		err := func() error {
			if conn == nil {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					return err
				}
				conn, br = c, bufio.NewReader(c)
			}
			_ = conn.SetDeadline(start.Add(2 * time.Second))
			if _, err := io.WriteString(conn, req); err != nil {
				return err
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", addr, resp.Status)
			}
			if resp.Close {
				conn.Close()
				conn = nil
			}
			return err
		}()
		if err != nil && conn != nil {
			conn.Close()
			conn = nil
		}
		record(time.Since(start).Seconds()*1000, err)
	}
	if conn != nil {
		conn.Close()
	}
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
