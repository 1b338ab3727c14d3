// Package server is `fargo server`: it resolves the cluster configuration and runs
// the control plane (and, as later parts land, fargo's own controllers) until stopped.
package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fargo-dev/fargo/internal/agent"
	"github.com/fargo-dev/fargo/internal/eksapi"
	"github.com/fargo-dev/fargo/internal/meter"
	"github.com/fargo-dev/fargo/internal/network/lb"
	"github.com/fargo-dev/fargo/internal/scheduler"
)

// Options are the flags of `fargo server`.
type Options struct {
	DataDir          string
	ConfigFile       string
	BindAddress      string
	AdvertiseAddress string
	APIPort          int
	ClusterName      string
	Region           string
	ServiceCIDR      string
	WriteKubeconfig  string

	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	EtcdClientPort, EtcdPeerPort          int
	EtcdMinFree, EtcdReserved             resource.QuantityValue

	ControllerManagerPort int
	SchedulerPort         int
	LeaderElect           bool
	Profiling             bool

	WebhookPort int
	EKSAPIPort  int
	EKSKeys     eksapi.Keys
	// EKSSecretFile holds the EKS API's secret access key.
	EKSSecretFile string
	AccountID     string
	Fargate       bool
	// WithoutNodeGroup: no default node group when there is no --config.
	WithoutNodeGroup bool
	Placement        string
	Host             agent.Options
	// CoreDNSBinary is the cluster DNS image's binary ("": beside fargo);
	// DNSUpstream the resolvers CoreDNS forwards other names to.
	CoreDNSBinary string
	DNSUpstream   []string
	// LBDNSSuffix ends load balancers' hostnames.
	LBDNSSuffix string
	WithoutDNS  bool

	// Meter overrides the cluster config's metering settings.
	Meter meter.Flags

	LogDir    string
	Verbosity int
}

// DefaultDataDir is where state lives unless --data-dir says otherwise.
const DefaultDataDir = "/var/lib/fargo"

// AddFlags registers every option on fs, with its default and meaning.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", DefaultDataDir, "directory for all state: etcd data, certificates, credentials, logs; the admin kubeconfig is written to DIR/kubeconfig.yaml")
	fs.StringVar(&o.ConfigFile, "config", "", "eksctl-style ClusterConfig file (apiVersion eksctl.io/v1alpha5): name, region, VPC subnets, service CIDR, node groups, Fargate profiles; default: a cluster named fargo in region local-1 with a 192.168.0.0/16 VPC and a node group of two m5.large nodes (see --without-nodegroup)")
	fs.StringVar(&o.BindAddress, "bind-address", "0.0.0.0", "address kube-apiserver and the EKS API listen on; 0.0.0.0 (all interfaces, as upstream) lets pods reach the apiserver through the kubernetes service; 127.0.0.1 keeps both off the network but pods then cannot reach them")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", "", "address published as the kubernetes service endpoint; default: the bind address if routable, else the host's first global IPv4 address")
	fs.IntVar(&o.APIPort, "api-port", 6443, "kube-apiserver HTTPS port")
	fs.StringVar(&o.ClusterName, "cluster-name", "", "cluster name (overrides metadata.name of --config; default fargo)")
	fs.StringVar(&o.Region, "region", "", "region name used in ARNs and node names (overrides metadata.region of --config; default local-1)")
	fs.StringVar(&o.ServiceCIDR, "service-cidr", "", "service IP range (overrides kubernetesNetworkConfig.serviceIPv4CIDR of --config; default 10.100.0.0/16, as EKS)")
	fs.StringVar(&o.WriteKubeconfig, "write-kubeconfig", "", "also write the admin kubeconfig to this path")
	fs.StringSliceVar(&o.EtcdServers, "etcd-servers", nil, "comma-separated client URLs of an external etcd cluster (3.5 or newer); when set, no embedded etcd is started")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", "", "CA bundle to verify the external etcd servers")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", "", "client certificate for the external etcd cluster")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", "", "client key for the external etcd cluster")
	fs.IntVar(&o.EtcdClientPort, "etcd-client-port", 2379, "client port of the embedded etcd, on 127.0.0.1; TLS, and only clients with a certificate from DATA/pki/etcd-ca are served")
	fs.IntVar(&o.EtcdPeerPort, "etcd-peer-port", 2380, "peer port of the embedded etcd, on 127.0.0.1")
	o.EtcdMinFree.Quantity, o.EtcdReserved.Quantity = resource.MustParse("256Mi"), resource.MustParse("128Mi")
	fs.Var(&o.EtcdMinFree, "etcd-min-free-space", "free space on the embedded etcd's filesystem (DATA/etcd) below which the cluster refuses writes until space returns, rather than etcd stopping the server on a full disk; 0: no guard")
	fs.Var(&o.EtcdReserved, "etcd-reserved-space", "space preallocated in DATA/etcd and released for etcd when the free space falls below --etcd-min-free-space, so it keeps running even if the disk then fills up")
	fs.IntVar(&o.ControllerManagerPort, "controller-manager-port", 10257, "kube-controller-manager HTTPS port (health, metrics), on 127.0.0.1")
	fs.IntVar(&o.SchedulerPort, "scheduler-port", 10259, "kube-scheduler HTTPS port (health, metrics), on 127.0.0.1")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "leader election for controller-manager and scheduler; turn on when several servers share one external etcd")
	fs.IntVar(&o.WebhookPort, "webhook-port", 9443, "HTTPS port of fargo's admission webhooks, on 127.0.0.1")
	fs.IntVar(&o.EKSAPIPort, "eks-api-port", 8443, "HTTPS port of the EKS-compatible API (Fargate profiles), on --bind-address; use with aws --endpoint-url https://127.0.0.1:PORT")
	fs.StringVar(&o.EKSKeys.AccessKeyID, "eks-access-key-id", "", "access key id the EKS API accepts (default: generated on first start into DATA/aws-credentials)")
	fs.StringVar(&o.EKSSecretFile, "eks-secret-access-key-file", "", "file holding the secret access key for --eks-access-key-id (or set "+SecretEnv+"); never on the command line, where ps shows it")
	fs.StringVar(&o.EKSKeys.SecretAccessKey, "eks-secret-access-key", "", "secret access key for --eks-access-key-id")
	_ = fs.MarkDeprecated("eks-secret-access-key", "it shows in ps; use --eks-secret-access-key-file or "+SecretEnv)
	fs.StringVar(&o.AccountID, "account-id", "000000000000", "12-digit AWS account id used in ARNs (Fargate profiles, default pod execution role)")
	fs.BoolVar(&o.Fargate, "fargate", false, "create the Fargate profile fp-default for the namespaces default and kube-system, and no default node group, as eksctl create cluster --fargate does")
	fs.BoolVar(&o.WithoutNodeGroup, "without-nodegroup", false, "without --config, create no node group (by default the cluster has one of two m5.large nodes, as eksctl create cluster gives)")
	fs.StringVar(&o.Placement, "placement", string(scheduler.Spread), "how the fargate-scheduler chooses among hosts with room for a sandbox: spread (the host with the most room left) or binpack (the fullest host that fits)")
	fs.StringVar(&o.CoreDNSBinary, "coredns-binary", "", "CoreDNS binary the cluster DNS image is built from (default: coredns beside the fargo binary, as make build puts it)")
	fs.StringVar(&o.LBDNSSuffix, "lb-dns-suffix", lb.DefaultSuffix, "domain that ends the hostname of every Service of type LoadBalancer, k8s-<ns>-<name>-<hash>.elb.<region>.<suffix>, as AWS names NLBs")
	fs.StringSliceVar(&o.DNSUpstream, "dns-upstream", nil, "resolvers (ip or ip:port, comma-separated) the cluster DNS forwards names outside the cluster to, written into a new coredns ConfigMap (default: the resolv.conf of the node CoreDNS runs on, as on EKS)")
	fs.BoolVar(&o.WithoutDNS, "without-dns", false, "deploy no cluster DNS (CoreDNS in kube-system)")
	o.Host.AddFlags(fs, "no built-in agent: run `fargo agent` on other machines")
	o.Meter.AddFlags(fs)
	fs.BoolVar(&o.Profiling, "profiling", false, "serve Go's pprof for the whole server at /debug/pprof on the API port (admin credentials), e.g. kubectl get --raw '/debug/pprof/profile?seconds=10'")
	fs.StringVar(&o.LogDir, "log-dir", "", "directory for component logs (default DATA/logs)")
	fs.IntVarP(&o.Verbosity, "v", "v", 0, "log verbosity of the Kubernetes components (klog level)")
}

// SecretEnv is the environment variable with the EKS API's secret access key.
const SecretEnv = "FARGO_EKS_SECRET_ACCESS_KEY"

// eksKeys is the access key given on the command line, with the secret read from
// --eks-secret-access-key-file or the environment.
func (o *Options) eksKeys() (eksapi.Keys, error) {
	k := o.EKSKeys
	if o.EKSSecretFile != "" {
		data, err := os.ReadFile(o.EKSSecretFile)
		if err != nil {
			return eksapi.Keys{}, fmt.Errorf("reading --eks-secret-access-key-file: %w", err)
		}
		if k.SecretAccessKey = strings.TrimSpace(string(data)); k.SecretAccessKey == "" {
			return eksapi.Keys{}, fmt.Errorf("--eks-secret-access-key-file %s is empty", o.EKSSecretFile)
		}
	} else if v := os.Getenv(SecretEnv); v != "" && k.SecretAccessKey == "" {
		k.SecretAccessKey = v
	}
	return k, nil
}

func (o *Options) logDir() string {
	if o.LogDir != "" {
		return o.LogDir
	}
	return filepath.Join(o.DataDir, "logs")
}

func parseIP(s string) net.IP {
	if s == "" {
		return nil
	}
	return net.ParseIP(s)
}
