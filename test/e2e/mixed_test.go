//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fargo-dev/fargo/test/harness"
	"github.com/fargo-dev/fargo/test/images"
)

// mixedConfig is the seed's cluster: a managed node group of two t3.xlarge in
// two private subnets, and the third test's Fargate profile (namespace
// test3-mixed, label runon=fargate).
const mixedConfig = `apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata: {name: mixed, region: ap-southeast-1}
vpc:
  subnets:
    private:
      ap-southeast-1a: { id: subnet-a, cidr: 192.168.96.0/19 }
      ap-southeast-1b: { id: subnet-b, cidr: 192.168.128.0/19 }
managedNodeGroups:
  - name: managed-ng
    labels: {Name: managed-ng}
    instanceType: t3.xlarge
    desiredCapacity: 2
    privateNetworking: true
fargateProfiles:
  - name: test3-mixed
    selectors:
      - namespace: test3-mixed
        labels: {runon: fargate}
`

// The seed's mixed cluster: the config's node group comes up as two upstream
// kubelets, pods that match no profile run there and the labelled ones on
// Fargate, both kinds answer kubectl logs and exec, and a kill -9 of the server
// and a restart keep every pod's container.
func TestMixedClusterWithManagedNodeGroup(t *testing.T) {
	harness.RequireRoot(t)
	img, err := images.Busybox()
	ref := images.Serve(t, "busybox", img, err)
	dataDir, cfg := harness.ClusterDir(t, "fargo-mixed-", mixedConfig)
	args := append(harness.ServerArgs(t, dataDir), "--config", cfg, "--runtime", "containerd", "--host-name", "mixed",
		"--cpu-overcommit", "8", "--host-memory", "32Gi")
	s := harness.StartServerWith(t, args)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.TryKubectl("get", "pods", "-A", "-o", "wide")
			t.Logf("%s\nserver output:\n%s", out, harness.Tail(s.Output(), 30))
			logs, _ := filepath.Glob(filepath.Join(dataDir, "logs", "node-*-kubelet.log"))
			for _, l := range logs {
				data, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, harness.Tail(string(data), 20))
			}
		}
	})
	nodes := []string{"ip-192-168-127-193.ap-southeast-1.compute.internal", "ip-192-168-159-193.ap-southeast-1.compute.internal"}
	if out := s.Output(); !strings.Contains(out, "node group managed-ng") || !strings.Contains(out, "2 × t3.xlarge: "+nodes[0]+", "+nodes[1]) {
		t.Errorf("the start-up output does not list the node group's nodes:\n%s", out)
	}
	harness.Eventually(t, time.Minute, "both nodes Ready", func() bool {
		out, _ := s.TryKubectl("get", "nodes", "-l", "eks.amazonaws.com/nodegroup=managed-ng",
			"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		return strings.Contains(out, nodes[0]+" True") && strings.Contains(out, nodes[1]+" True")
	})

	s.Kubectl("create", "namespace", "test3-mixed")
	harness.Eventually(t, 30*time.Second, "service account", func() bool {
		_, err := s.TryKubectl("get", "sa", "default", "-n", "test3-mixed")
		return err == nil
	})
	for _, d := range []struct{ name, labels string }{{"mixed-ec2", ""}, {"mixed-fargate", `,"runon":"fargate"`}} {
		s.CreateManifest(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + d.name + `","namespace":"test3-mixed"},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"` + d.name + `"}},"template":{"metadata":{"labels":{"app":"` + d.name + `"` + d.labels + `}},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"` + ref + `","command":["sh","-c","echo hello from $HOSTNAME; sleep 3600"]}]}}}}`)
	}
	pods := waitPods(t, s, "test3-mixed", 4)
	for _, p := range pods {
		onFargate := strings.HasPrefix(p.Spec.NodeName, "fargate-ip-")
		if wantFargate := p.Labels["runon"] == "fargate"; onFargate != wantFargate {
			t.Errorf("pod %s (runon=%q) on %s", p.Name, p.Labels["runon"], p.Spec.NodeName)
		}
		if !onFargate && p.Spec.NodeName != nodes[0] && p.Spec.NodeName != nodes[1] {
			t.Errorf("pod %s on %s, not a managed-ng node", p.Name, p.Spec.NodeName)
		}
	}
	if out := s.Kubectl("get", "pods", "-n", "test3-mixed", "-l", "runon", "-o", "name"); len(strings.Fields(out)) != 2 || !strings.Contains(out, "mixed-fargate") || strings.Contains(out, "mixed-ec2") {
		t.Errorf("kubectl get pods -l runon: %s; want the two Fargate pods only", out)
	}
	for _, p := range pods {
		harness.Eventually(t, 30*time.Second, "kubectl logs "+p.Name, func() bool {
			out, _ := s.TryKubectl("logs", "-n", "test3-mixed", p.Name)
			return strings.Contains(out, "hello from "+p.Name)
		})
		if out, err := s.TryKubectl("exec", "-n", "test3-mixed", p.Name, "--", "hostname"); err != nil || strings.TrimSpace(out) != p.Name {
			t.Errorf("kubectl exec %s hostname: %q, %v", p.Name, out, err)
		}
	}

	// A DaemonSet runs on every node-group node and on no Fargate node (they are
	// tainted eks.amazonaws.com/compute-type=fargate:NoSchedule, as on EKS).
	s.Kubectl("create", "namespace", "monitoring")
	harness.Eventually(t, 30*time.Second, "service account", func() bool {
		_, err := s.TryKubectl("get", "sa", "default", "-n", "monitoring")
		return err == nil
	})
	s.CreateManifest(`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"node-agent","namespace":"monitoring"},
"spec":{"selector":{"matchLabels":{"app":"node-agent"}},"template":{"metadata":{"labels":{"app":"node-agent"}},
"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"` + ref + `","command":["sleep","3600"]}]}}}}`)
	agents := waitPods(t, s, "monitoring", 2)
	on := map[string]bool{}
	for _, p := range agents {
		on[p.Spec.NodeName] = true
	}
	if !on[nodes[0]] || !on[nodes[1]] {
		t.Errorf("DaemonSet pods on %v; want one on each of %v and none on Fargate", on, nodes)
	}

	// Scaling: a third node joins; back to two, it is drained (its pod evicted)
	// and removed, with its DaemonSet pod.
	third := "ip-192-168-127-129.ap-southeast-1.compute.internal"
	fargo := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(harness.Bin(t, "fargo"), append(args, "--cluster", "mixed", "--kubeconfig", s.Kubeconfig())...).CombinedOutput()
		if err != nil {
			t.Fatalf("fargo %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := fargo("scale", "nodegroup", "managed-ng", "--nodes", "3", "--nodes-max", "3"); !strings.Contains(out, "nodegroup successfully scaled") || !strings.Contains(out, third) {
		t.Errorf("fargo scale nodegroup --nodes 3:\n%s", out)
	}
	if out := fargo("get", "nodegroup"); !regexp.MustCompile(`mixed\s+managed-ng\s+ACTIVE\s+\S+\s+2\s+3\s+3\s+t3.xlarge\s+managed`).MatchString(out) {
		t.Errorf("fargo get nodegroup: want eksctl's row for managed-ng at 3 nodes:\n%s", out)
	}
	waitPods(t, s, "monitoring", 3)
	s.CreateManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"on-third","namespace":"monitoring"},
"spec":{"nodeName":"` + third + `","terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"` + ref + `","command":["sleep","3600"]}]}}`)
	waitPods(t, s, "monitoring", 4)
	if out := fargo("scale", "nodegroup", "--name", "managed-ng", "--nodes", "2"); !strings.Contains(out, "nodegroup successfully scaled") || strings.Contains(out, "scaled: "+third) {
		t.Errorf("fargo scale nodegroup --nodes 2:\n%s", out)
	}
	if _, err := s.Client().CoreV1().Nodes().Get(context.Background(), third, metav1.GetOptions{}); err == nil {
		t.Errorf("node %s still registered after the scale-down", third)
	}
	waitPods(t, s, "monitoring", 2)
	if _, err := os.Stat("/sys/class/net/fgnc0a87f81"); err == nil {
		t.Error("the removed node's interface is still there")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "nodes", "192.168.127.129")); err == nil {
		t.Error("the removed node's directory is still there")
	}
	s.Kubectl("delete", "namespace", "monitoring", "--wait=true", "--timeout=90s")

	// A second group made and deleted with eksctl's commands: its node joins
	// with the group's labels, and is drained and taken off the machine.
	out := fargo("create", "nodegroup", "--name", "web", "--node-type", "t3.medium", "--nodes", "1", "--node-labels", "team=web", "--node-private-networking")
	m := regexp.MustCompile(`nodegroup "web" has 1 node\(s\): (ip-[0-9-]+\.ap-southeast-1\.compute\.internal)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("fargo create nodegroup:\n%s", out)
	}
	if got := s.Kubectl("get", "node", m[1], "-o", `jsonpath={.metadata.labels.team} {.metadata.labels.node\.kubernetes\.io/instance-type} {.status.conditions[?(@.type=="Ready")].status}`); got != "web t3.medium True" {
		t.Errorf("node %s of web: %q; want its label, type and Ready", m[1], got)
	}
	// A label and taint change of the group reaches its node, as EKS's
	// UpdateNodegroupConfig does.
	s.Kubectl("patch", "nodegroup", "web", "--type=merge", "-p", `{"spec":{"labels":{"team":"api"},"taints":[{"key":"dedicated","value":"api","effect":"NoSchedule"}]}}`)
	harness.Eventually(t, time.Minute, "web's node relabelled", func() bool {
		out, _ := s.TryKubectl("get", "node", m[1], "-o", `jsonpath={.metadata.labels.team} {.spec.taints[?(@.key=="dedicated")].value}`)
		return out == "api api"
	})
	if out := fargo("delete", "nodegroup", "web", "--wait"); !strings.Contains(out, "deleted 1 nodegroup(s)") {
		t.Errorf("fargo delete nodegroup:\n%s", out)
	}
	if _, err := s.Client().CoreV1().Nodes().Get(context.Background(), m[1], metav1.GetOptions{}); err == nil {
		t.Errorf("node %s still registered after its group was deleted", m[1])
	}
	if dirs, _ := os.ReadDir(filepath.Join(dataDir, "nodes")); len(dirs) != 2 {
		t.Errorf("DATA/nodes has %d nodes after web was deleted, want managed-ng's 2", len(dirs))
	}

	// kill -9 of the server, and the same command again: every pod keeps its container.
	if err := s.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.WaitExit(30 * time.Second)
	s = harness.StartServerWith(t, args)
	harness.Eventually(t, time.Minute, "the node group's nodes Ready again", func() bool {
		out, _ := s.TryKubectl("get", "nodes", "-l", "eks.amazonaws.com/nodegroup=managed-ng",
			"-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		return strings.Count(out, "True") == 2
	})
	after := waitPods(t, s, "test3-mixed", 4)
	for name, p := range pods {
		q := after[name]
		if q == nil || q.Status.ContainerStatuses[0].ContainerID != p.Status.ContainerStatuses[0].ContainerID || q.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("pod %s: container %s became %+v", name, p.Status.ContainerStatuses[0].ContainerID, q)
		}
	}
	s.Kubectl("delete", "namespace", "test3-mixed", "--wait=true", "--timeout=90s")
}

// waitPods waits until n pods of ns run and returns them by name.
func waitPods(t *testing.T, s *harness.Server, ns string, n int) map[string]*corev1.Pod {
	t.Helper()
	var got map[string]*corev1.Pod
	harness.Eventually(t, 2*time.Minute, "pods Running", func() bool {
		list, err := s.Client().CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		got = map[string]*corev1.Pod{}
		for i := range list.Items {
			p := &list.Items[i]
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil {
				got[p.Name] = p
			}
		}
		return len(got) == n && len(list.Items) == n
	})
	return got
}
