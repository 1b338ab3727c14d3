package dns

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestResolvConf(t *testing.T) {
	host := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(host, []byte("# host\nnameserver 192.0.2.53\nsearch example.org\noptions edns0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Config{ClusterDNS: net.ParseIP("10.100.0.10"), Region: "us-west-2", HostResolvConf: host}
	for _, tc := range []struct {
		name   string
		policy corev1.DNSPolicy
		config *corev1.PodDNSConfig
		want   string
	}{
		{"cluster first", "", nil,
			"nameserver 10.100.0.10\nsearch apps.svc.cluster.local svc.cluster.local cluster.local us-west-2.compute.internal\noptions ndots:5\n"},
		{"dnsConfig merged", corev1.DNSClusterFirst, &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.1"}, Searches: []string{"corp"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}}},
			"nameserver 10.100.0.10\nnameserver 192.0.2.1\nsearch apps.svc.cluster.local svc.cluster.local cluster.local us-west-2.compute.internal corp\noptions ndots:2 edns0\n"},
		{"default: the host's", corev1.DNSDefault, nil, "nameserver 192.0.2.53\nsearch example.org\noptions edns0\n"},
		{"none", corev1.DNSNone, &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.1"}}, "nameserver 192.0.2.1\n"},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"}, Spec: corev1.PodSpec{DNSPolicy: tc.policy, DNSConfig: tc.config}}
		got, err := c.resolvConf(pod)
		if err != nil || got != tc.want {
			t.Errorf("%s: resolv.conf\n%s(err %v), want\n%s", tc.name, got, err, tc.want)
		}
	}
}

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web-0"},
		Spec: corev1.PodSpec{Subdomain: "web", HostAliases: []corev1.HostAlias{{IP: "192.0.2.9", Hostnames: []string{"a", "b"}}}}}
	got := hostsFile(pod, "192.168.1.5")
	for _, line := range []string{"127.0.0.1\tlocalhost\n", "192.168.1.5\tweb-0.web.apps.svc.cluster.local\tweb-0\n", "192.0.2.9\ta\tb\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("hosts file lacks %q:\n%s", line, got)
		}
	}
}
