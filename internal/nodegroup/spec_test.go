package nodegroup

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/fargo-dev/fargo/internal/instancetype"
)

func testSpec(t *testing.T) *Spec {
	t.Helper()
	_, subnet, _ := net.ParseCIDR("192.168.96.0/19")
	_, block, _ := net.ParseCIDR("192.168.127.192/26")
	xl, err := instancetype.Lookup("t3.xlarge")
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP("192.168.127.193").To4()
	return &Spec{Name: NodeName(ip, "ap-southeast-1"), Group: "managed-ng", InstanceType: "t3.xlarge", Type: xl,
		Region: "ap-southeast-1", Zone: "ap-southeast-1a", IP: ip, Subnet: subnet, Block: block,
		Labels: map[string]string{"Name": "managed-ng"}, Taints: []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}}
}

func TestNodeIdentityAsEKS(t *testing.T) {
	n := testSpec(t)
	if n.Name != "ip-192-168-127-193.ap-southeast-1.compute.internal" {
		t.Errorf("name %q", n.Name)
	}
	got := labelFlag(n.NodeLabels())
	for _, want := range []string{"eks.amazonaws.com/nodegroup=managed-ng", "eks.amazonaws.com/capacityType=ON_DEMAND",
		"node.kubernetes.io/instance-type=t3.xlarge", "topology.kubernetes.io/region=ap-southeast-1",
		"topology.kubernetes.io/zone=ap-southeast-1a", "Name=managed-ng"} {
		if !strings.Contains(got, want) {
			t.Errorf("--node-labels %q lacks %s", got, want)
		}
	}
	if got := taintFlag(n.Taints); got != "dedicated=gpu:NoSchedule" {
		t.Errorf("--register-with-taints %q", got)
	}
	if got := linkName(n.IP); len(got) > 15 || got != "fgnc0a87fc1" {
		t.Errorf("interface name %q: want fgn and the address in hex, at most 15 characters", got)
	}
}

func TestPodsGetTheNodesShareOfTheSubnet(t *testing.T) {
	n := testSpec(t)
	first, last := n.podRange()
	if first.String() != "192.168.127.194" || last.String() != "192.168.127.254" {
		t.Errorf("pod range %s-%s, want 192.168.127.194-192.168.127.254 (the node has .193)", first, last)
	}
	data, err := cniConfig(dirs{root: "/data/nodes/x"}, n)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []struct {
			Type string
			IPAM struct {
				Ranges [][]map[string]string
			}
		}
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	r := conf.Plugins[0].IPAM.Ranges[0][0]
	if conf.Plugins[0].Type != "ptp" || r["subnet"] != "192.168.96.0/19" || r["gateway"] != "192.168.96.1" || r["rangeStart"] != "192.168.127.194" {
		t.Errorf("CNI config %s: want ptp, the subnet's mask and router, the node's range", data)
	}
}

func TestKubeletConfig(t *testing.T) {
	n := testSpec(t)
	data, err := kubeletConfig(dirs{root: "/data/nodes/192.168.127.193"}, n, net.ParseIP("10.100.0.10"), 24105)
	if err != nil {
		t.Fatal(err)
	}
	var cfg kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Address != "192.168.127.193" || cfg.HealthzBindAddress != "192.168.127.193" || cfg.ReadOnlyPort != 0 {
		t.Errorf("listens on %s (healthz %s, read-only %d); want only the node's address", cfg.Address, cfg.HealthzBindAddress, cfg.ReadOnlyPort)
	}
	if *cfg.Authentication.Anonymous.Enabled || cfg.Authorization.Mode != "Webhook" {
		t.Error("anonymous access on or authorization not by the apiserver")
	}
	if cfg.CgroupRoot != "/fargo-nodes/192.168.127.193" || cfg.MaxPods != 58 || cfg.PodLogsDir != "/data/nodes/192.168.127.193/pod-logs" {
		t.Errorf("cgroup root %s, max pods %d, pod logs %s", cfg.CgroupRoot, cfg.MaxPods, cfg.PodLogsDir)
	}
	if got := cfg.SystemReserved["memory"]; got != "7721Mi" {
		t.Errorf("reserved memory %q, want the machine's 24105 MiB less t3.xlarge's 16384", got)
	}
	if *cfg.MakeIPTablesUtilChains {
		t.Error("the kubelet would write iptables chains on the shared host")
	}
}
