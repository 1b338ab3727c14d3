// Package controlplane runs the upstream Kubernetes control plane in-process: etcd
// (embedded or external), kube-apiserver, kube-controller-manager and kube-scheduler,
// with the PKI and kubeconfigs they need, as k3s does.
package controlplane

import (
	"net"
	"path/filepath"
)

// Config is what the control plane needs to start. Zero ports mean "not served".
type Config struct {
	DataDir string
	// BindAddress is where kube-apiserver listens; AdvertiseAddress is what it
	// publishes as the kubernetes service endpoint (empty: derived).
	BindAddress      net.IP
	AdvertiseAddress net.IP
	APIPort          int
	ServiceCIDR      *net.IPNet
	ClusterName      string

	// EtcdServers selects an external etcd cluster; empty runs the embedded one on
	// EtcdClientPort and EtcdPeerPort (loopback only).
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	EtcdClientPort, EtcdPeerPort          int
	// EtcdMinFreeSpace is the free space on the embedded etcd's filesystem below
	// which writes are refused (etcd's NOSPACE alarm) until space returns;
	// EtcdReservedSpace is preallocated there and released for etcd at that point.
	EtcdMinFreeSpace, EtcdReservedSpace int64
	// Warn is told what an operator must know while the cluster runs (the disk
	// guard's alarms); nil: the log only.
	Warn func(error)

	ControllerManagerPort int
	SchedulerPort         int
	// LeaderElect turns on leader election for controller-manager and scheduler, for
	// several servers sharing one external etcd.
	LeaderElect bool
	// Profiling serves Go's pprof at /debug/pprof on the API port (admin only); it
	// covers the whole process, fargo's controllers included.
	Profiling bool

	// WriteKubeconfig is an extra path for the admin kubeconfig.
	WriteKubeconfig string
	// LogDir receives the components' logs.
	LogDir string
	// Verbosity is klog's -v for the embedded components.
	Verbosity int
}

func (c *Config) pkiDir() string   { return filepath.Join(c.DataDir, "pki") }
func (c *Config) etcdDir() string  { return filepath.Join(c.DataDir, "etcd") }
func (c *Config) credsDir() string { return filepath.Join(c.DataDir, "credentials") }

// KubeconfigPath is the admin kubeconfig fargo writes on every start.
func (c *Config) KubeconfigPath() string { return filepath.Join(c.DataDir, "kubeconfig.yaml") }

// clientHost is the address clients on this machine use to reach the apiserver.
func (c *Config) clientHost() string {
	if c.BindAddress == nil || c.BindAddress.IsUnspecified() {
		return "127.0.0.1"
	}
	return c.BindAddress.String()
}

// serviceIP is the first address of the service CIDR: the kubernetes service.
func (c *Config) serviceIP() net.IP {
	ip := make(net.IP, len(c.ServiceCIDR.IP))
	copy(ip, c.ServiceCIDR.IP)
	ip[len(ip)-1]++
	return ip
}
