//go:build e2e

package e2e

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fargo-dev/fargo/internal/instancetype"
	"github.com/fargo-dev/fargo/internal/nodegroup"
	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// nodeConfig is a cluster with one private subnet and no node groups: the test
// starts its node itself.
const nodeConfig = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: kubelets, region: ap-southeast-1}
vpc:
  subnets:
    private:
      ap-southeast-1a: { id: subnet-a, cidr: 192.168.96.0/19 }
`

// A node of a managed node group is an upstream kubelet with its own containerd:
// it registers as EKS names and labels it, goes Ready, runs a pod at an address
// of its share of the subnet, and the apiserver reaches it for logs and exec.
func TestNodeGroupNodeRunsPods(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	dataDir, cfg := harness.ClusterDir(t, "fargo-ng-", nodeConfig)
	s := harness.StartServerWith(t, append(harness.ServerArgs(t, dataDir), "--config", cfg))

	ca, key := clusterCA(t, dataDir)
	_, subnet, _ := net.ParseCIDR("192.168.96.0/19")
	_, block, _ := net.ParseCIDR("192.168.127.192/26")
	xl, err := instancetype.Lookup("t3.xlarge")
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP("192.168.127.193").To4()
	spec := nodegroup.Spec{Name: nodegroup.NodeName(ip, "ap-southeast-1"), Group: "ng-1", InstanceType: "t3.xlarge", Type: xl,
		Region: "ap-southeast-1", Zone: "ap-southeast-1a", IP: ip, Subnet: subnet, Block: block,
		Labels: map[string]string{"team": "web"}}
	token, err := nodegroup.BootstrapToken(context.Background(), s.Client())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	node, err := nodegroup.Start(context.Background(), &nodegroup.Cluster{DataDir: dataDir, LogDir: filepath.Join(dataDir, "logs"),
		APIServer: "https://127.0.0.1:" + harness.ArgValue(s.Args, "--api-port"), CA: ca, CAKey: key,
		DNS: net.ParseIP("10.100.0.10"), Fargo: harness.Bin(t, "fargo"), Token: token}, spec)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(dataDir, "logs", "node-192.168.127.193-kubelet.log"))
			t.Logf("kubelet log:\n%s", harness.Tail(string(data), 40))
		}
		if !stopped {
			_ = node.Stop()
		}
	})

	name := "ip-192-168-127-193.ap-southeast-1.compute.internal"
	var n *corev1.Node
	harness.Eventually(t, time.Minute, "the node Ready", func() bool {
		n, err = s.Client().CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
	t.Logf("node Ready %.1f s after start", time.Since(start).Seconds())
	// TLS bootstrap: the kubelet asked for its client certificate with the token,
	// and kube-controller-manager approved and signed it.
	csrs, err := s.Client().CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bootstrapped := false
	for _, c := range csrs.Items {
		if c.Spec.SignerName == "kubernetes.io/kube-apiserver-client-kubelet" && c.Spec.Username == "system:bootstrap:"+strings.Split(token, ".")[0] && len(c.Status.Certificate) > 0 {
			bootstrapped = true
		}
	}
	if !bootstrapped {
		t.Errorf("no signed kubelet client CSR from the bootstrap token among %d CSRs", len(csrs.Items))
	}
	for k, v := range map[string]string{"eks.amazonaws.com/nodegroup": "ng-1", "eks.amazonaws.com/capacityType": "ON_DEMAND",
		"node.kubernetes.io/instance-type": "t3.xlarge", "topology.kubernetes.io/zone": "ap-southeast-1a",
		"topology.kubernetes.io/region": "ap-southeast-1", "team": "web"} {
		if n.Labels[k] != v {
			t.Errorf("node label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if got := n.Status.Allocatable.Memory().Value() >> 20; got > xl.MemoryMiB || got < xl.MemoryMiB-200 {
		t.Errorf("allocatable memory %d MiB, want about t3.xlarge's %d", got, xl.MemoryMiB)
	}

	harness.Eventually(t, 30*time.Second, "service account", func() bool { _, err := s.TryKubectl("get", "sa", "default"); return err == nil })
	s.Kubectl("run", "web", "--image="+ref, "--restart=Never", "--overrides",
		`{"spec":{"nodeSelector":{"eks.amazonaws.com/nodegroup":"ng-1"}}}`, "--", "sh", "-c", "echo hello from the node group; sleep 3600")
	var pod *corev1.Pod
	harness.Eventually(t, 90*time.Second, "the pod Running", func() bool {
		pod, err = s.Client().CoreV1().Pods("default").Get(context.Background(), "web", metav1.GetOptions{})
		return err == nil && pod.Status.Phase == corev1.PodRunning
	})
	if pod.Spec.NodeName != name || !block.Contains(net.ParseIP(pod.Status.PodIP)) {
		t.Errorf("pod on %s at %s; want on %s at an address of %s", pod.Spec.NodeName, pod.Status.PodIP, name, block)
	}
	harness.Eventually(t, 30*time.Second, "kubectl logs", func() bool {
		out, _ := s.TryKubectl("logs", "web")
		return strings.Contains(out, "hello from the node group")
	})
	if out, err := s.TryKubectl("exec", "web", "--", "cat", "/proc/self/cgroup"); err != nil || !strings.Contains(out, "/fargo-nodes/192.168.127.193/") {
		t.Errorf("kubectl exec: %v\n%s; want the node's cgroup", err, out)
	}

	s.Kubectl("delete", "pod", "web", "--grace-period=1", "--wait=true", "--timeout=60s")
	if err := node.Stop(); err != nil {
		t.Error(err)
	}
	stopped = true
}

// clusterCA loads the server's CA, which signs node certificates.
func clusterCA(t *testing.T, dataDir string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dataDir, "pki", "ca.crt"), filepath.Join(dataDir, "pki", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return cert, pair.PrivateKey.(crypto.Signer)
}
