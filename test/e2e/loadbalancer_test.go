//go:build e2e

package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
`

// The second seed's test1-ec2nodegroup and test2-fargate, as written but for the
// image: each internet-facing NLB gets an EXTERNAL-IP from the public subnet
// within 10 s and a hostname in the seed's shape, and an HTTP GET from the host
// to that address returns nginx's page from pods on the node group and on
// Fargate; deleting a Service frees its address; target type instance on
// Fargate is refused with an event.
func TestSeedLoadBalancers(t *testing.T) {
	requireRoot(t)
	img, err := images.Nginx(filepath.Join(harness.Root(), "bin", "image-cache", "nginx"))
	nginx := images.Serve(t, "nginx", img, err)
	dataDir, cfg := clusterDir(t, "fargo-lb-", lbConfig)
	args := append(harness.ServerArgs(t, dataDir), "--config", cfg, "--runtime", "containerd",
		"--host-name", "lb", "--cpu-overcommit", "8", "--host-memory", "32Gi")
	s := harness.StartServerWith(t, args)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.TryKubectl("get", "pods,services", "-A", "-o", "wide")
			t.Logf("%s\nserver output:\n%s", out, tail(s.Output(), 30))
		}
	})
	_, public, _ := net.ParseCIDR("192.168.0.0/19")
	for _, app := range []struct{ ns, file string }{
		{"test1-ec2nodegroup", "test1-ec2nodegroup.yaml"},
		{"test2-fargate", "test2-fargate.yaml"},
	} {
		t.Run(app.ns, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(harness.Root(), "examples", "seed", app.file))
			if err != nil {
				t.Fatal(err)
			}
			manifest := strings.ReplaceAll(string(data), "public.ecr.aws/nginx/nginx:1.24-alpine-slim", nginx)
			applied := time.Now()
			if out, err := s.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
				t.Fatalf("kubectl apply: %v: %s", err, out)
			}
			svc := map[string]string{"test1-ec2nodegroup": "nginx-ec2nodegroup", "test2-fargate": "nginx-fargate-pod"}[app.ns]
			var ip string
			harness.Eventually(t, 10*time.Second, "an EXTERNAL-IP for "+svc, func() bool {
				ip, _ = s.TryKubectl("get", "service", svc, "-n", app.ns, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
				return ip != ""
			})
			t.Logf("%s: EXTERNAL-IP %s after %.2f s", svc, ip, time.Since(applied).Seconds())
			if !public.Contains(net.ParseIP(ip)) {
				t.Errorf("internet-facing %s at %s, outside the public subnet %s", svc, ip, public)
			}
			host := s.Kubectl("get", "service", svc, "-n", app.ns, "-o", "jsonpath={.status.loadBalancer.ingress[0].hostname}")
			if !strings.HasPrefix(host, "k8s-"+strings.ReplaceAll(app.ns, "-", "")[:8]+"-") || !strings.HasSuffix(host, ".elb.ap-southeast-1.amazonaws.com") {
				t.Errorf("hostname %q is not in the seed's shape", host)
			}
			if out := s.Kubectl("get", "services", "-n", app.ns); !strings.Contains(out, ip) {
				t.Errorf("kubectl get services shows no EXTERNAL-IP:\n%s", out)
			}
			harness.Eventually(t, 2*time.Minute, svc+" pods ready", func() bool {
				out, _ := s.TryKubectl("get", "deployment", svc, "-n", app.ns, "-o", "jsonpath={.status.readyReplicas}")
				return out == "2"
			})
			if app.ns == "test2-fargate" {
				if out := s.Kubectl("get", "pods", "-n", app.ns, "-o", "wide"); strings.Count(out, "fargate-ip-") != 2 {
					t.Errorf("test2-fargate's pods are not on Fargate:\n%s", out)
				}
			}
			var body string
			harness.Eventually(t, 30*time.Second, "nginx's page at http://"+ip, func() bool {
				body, err = tryGet("http://" + ip + "/")
				return err == nil && strings.Contains(body, "Welcome to nginx")
			})
		})
	}

	// Deleting a Service frees its address: the next load balancer takes it.
	freed := s.Kubectl("get", "service", "nginx-ec2nodegroup", "-n", "test1-ec2nodegroup", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
	s.Kubectl("delete", "service", "nginx-ec2nodegroup", "-n", "test1-ec2nodegroup")
	s.CreateManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"again","namespace":"test1-ec2nodegroup","annotations":{"service.beta.kubernetes.io/aws-load-balancer-scheme":"internet-facing"}},
"spec":{"type":"LoadBalancer","selector":{"app":"nginx-ec2nodegroup"},"ports":[{"port":8080,"targetPort":80}]}}`)
	harness.Eventually(t, 10*time.Second, "the freed address "+freed+" given to the next load balancer", func() bool {
		ip, _ := s.TryKubectl("get", "service", "again", "-n", "test1-ec2nodegroup", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		return ip == freed
	})
	if body, err := tryGet("http://" + freed + ":8080/"); err != nil || !strings.Contains(body, "Welcome to nginx") {
		t.Errorf("GET through the new load balancer's port 8080: %v %q", err, body)
	}

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
