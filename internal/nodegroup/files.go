package nodegroup

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/fargo-dev/fargo/internal/network/ipam"
)

// pauseImage is every node's sandbox image, built by fargo and imported at start.
const pauseImage = "fargo.local/pause:3.10"

// cniBinDir holds Debian's CNI plugins (containernetworking-plugins).
const cniBinDir = "/usr/lib/cni"

// dirs are the paths of one node.
type dirs struct{ root string }

func (d dirs) containerd() string { return filepath.Join(d.root, "containerd") }
func (d dirs) socket() string     { return filepath.Join(d.containerd(), "containerd.sock") }
func (d dirs) kubelet() string    { return filepath.Join(d.root, "kubelet") }
func (d dirs) pki() string        { return filepath.Join(d.root, "pki") }
func (d dirs) cniConf() string    { return filepath.Join(d.root, "cni", "net.d") }
func (d dirs) cniData() string    { return filepath.Join(d.root, "cni", "ipam") }
func (d dirs) manifests() string  { return filepath.Join(d.root, "manifests") }
func (d dirs) podLogs() string    { return filepath.Join(d.root, "pod-logs") }
func (d dirs) kubeconfig() string { return filepath.Join(d.root, "kubeconfig.yaml") }
func (d dirs) bootstrap() string  { return filepath.Join(d.root, "bootstrap-kubeconfig.yaml") }
func (d dirs) config() string     { return filepath.Join(d.root, "kubelet.yaml") }
func (d dirs) pidFile() string    { return filepath.Join(d.root, "kubelet.pid") }

// cgroupRoot is the node's cgroup, in every hierarchy: the kubelet's cgroupRoot.
func cgroupRoot(ip net.IP) string { return "/fargo-nodes/" + ip.String() }

// kubeletConfig is the node's KubeletConfiguration: its own address, ports, dirs,
// cgroups and runtime; the cluster's DNS; anonymous access off, every request
// authenticated and authorized by the apiserver, as on an EKS node.
func kubeletConfig(d dirs, n *Spec, dns net.IP, machineMemoryMiB int64) ([]byte, error) {
	no, yes := false, true
	cfg := kubeletv1beta1.KubeletConfiguration{
		TypeMeta:           metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration"},
		Address:            n.IP.String(),
		Port:               10250,
		ReadOnlyPort:       0,
		HealthzBindAddress: n.IP.String(),
		TLSCertFile:        filepath.Join(d.pki(), "kubelet-serving.crt"),
		TLSPrivateKeyFile:  filepath.Join(d.pki(), "kubelet-serving.key"),
		Authentication: kubeletv1beta1.KubeletAuthentication{
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: filepath.Join(d.pki(), "ca.crt")},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: &yes},
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: &no},
		},
		Authorization: kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook},
		CgroupDriver:  "cgroupfs",
		CgroupRoot:    cgroupRoot(n.IP),
		FailCgroupV1:  &no, // the machines here run cgroup v1
		FailSwapOn:    &no,
		// Its iptables chains serve kube-proxy's iptables mode; fargo's proxy is
		// nftables, and nodes share the host's tables.
		MakeIPTablesUtilChains:   &no,
		ContainerRuntimeEndpoint: "unix://" + d.socket(),
		ClusterDNS:               []string{dns.String()},
		ClusterDomain:            "cluster.local",
		StaticPodPath:            d.manifests(),
		PodLogsDir:               d.podLogs(),
		MaxPods:                  int32(n.Type.MaxPods),
		RotateCertificates:       true,
		ProviderID:               "aws:///" + n.Zone + "/i-" + strings.ReplaceAll(n.IP.String(), ".", ""),
	}
	// The kubelet reports the machine's memory as capacity; reserving the rest
	// makes allocatable the instance type's (less the eviction threshold, as on
	// EC2).
	if extra := machineMemoryMiB - n.Type.MemoryMiB; extra > 0 {
		cfg.SystemReserved = map[string]string{"memory": strconv.FormatInt(extra, 10) + "Mi"}
	}
	return yaml.Marshal(cfg)
}

// writeBootstrapKubeconfig is the kubelet's first client configuration: the
// apiserver, the cluster CA, and a bootstrap token, with which the kubelet asks
// for its client certificate and then writes its own kubeconfig.
func writeBootstrapKubeconfig(d dirs, server, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: filepath.Join(d.pki(), "ca.crt")}
	cfg.AuthInfos["bootstrap"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["bootstrap"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "bootstrap"}
	cfg.CurrentContext = "bootstrap"
	if err := clientcmd.WriteToFile(*cfg, d.bootstrap()); err != nil {
		return fmt.Errorf("writing the kubelet's bootstrap kubeconfig: %w", err)
	}
	return os.Chmod(d.bootstrap(), 0o600)
}

// cniConfig gives pods addresses of the node's block, with the subnet's mask and
// router, on a point-to-point veth: routed, as the AWS VPC CNI does, no bridge,
// no overlay, no NAT.
func cniConfig(d dirs, n *Spec) ([]byte, error) {
	first, last := n.podRange()
	ones, _ := n.Subnet.Mask.Size()
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "fargo-vpc",
		"plugins": []any{map[string]any{
			"type": "ptp",
			"mtu":  1500,
			"ipam": map[string]any{
				"type":    "host-local",
				"dataDir": d.cniData(),
				"ranges": [][]map[string]string{{{
					"subnet":     fmt.Sprintf("%s/%d", n.Subnet.IP, ones),
					"rangeStart": first.String(),
					"rangeEnd":   last.String(),
					"gateway":    ipam.Router(n.Subnet).String(),
				}}},
				"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
			},
		}},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// containerdConfig is the node's containerd: CRI on, everything under its dir,
// its streaming server on a free loopback port (not the shared 10010), and
// restrict_oom_score_adj, without which runc cannot start a pause container here
// (root lacks CAP_SYS_RESOURCE).
func containerdConfig(n dirs) func(dir string) string {
	return func(dir string) string {
		r := strings.NewReplacer("DIR", dir, "CNICONF", n.cniConf(), "CNIBIN", cniBinDir, "PAUSE", pauseImage)
		return r.Replace(`version = 2
root = "DIR/root"
state = "DIR/state"

[grpc]
  address = "DIR/containerd.sock"

[ttrpc]
  address = "DIR/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "PAUSE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Pods' network namespaces under DIR/state, not /run/netns: whose they are
  # stays plain, and fargo uninstall finds them under the data dir.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "CNIBIN"
    conf_dir = "CNICONF"
`)
	}
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}
