// Package agent is the host agent: one Start for the agent inside `fargo server`
// and for `fargo agent` on a machine of its own, as k3s's server runs the same
// agent as `k3s agent`. It registers its host and capacity, runs the Sandboxes
// placed on the host (fargate/) and their pods (podworker/) through a runtime
// backend, serves the kubelet API of its nodes (kubeletapi/) and, for backends
// on the host network, the service proxy.
package agent

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/fargo-dev/fargo/internal/agent/fargate"
	"github.com/fargo-dev/fargo/internal/agent/host"
	"github.com/fargo-dev/fargo/internal/agent/kubeletapi"
	"github.com/fargo-dev/fargo/internal/agent/podworker"
	"github.com/fargo-dev/fargo/internal/agent/podworker/dns"
	"github.com/fargo-dev/fargo/internal/datadir"
	"github.com/fargo-dev/fargo/internal/network/cni"
	"github.com/fargo-dev/fargo/internal/network/names"
	"github.com/fargo-dev/fargo/internal/network/proxy"
	"github.com/fargo-dev/fargo/internal/runtime"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// Config is what an agent is told.
type Config struct {
	// HostName names the Host object; unique per machine.
	HostName string
	Region   string
	// Capacity is what the host offers to sandboxes; Machine what it has.
	Capacity v1alpha1.HostCapacity
	Machine  v1alpha1.HostMachine
	Runtime  runtime.Runtime
	// KubeletVersion is reported on nodes (the embedded Kubernetes version).
	KubeletVersion string
	// Heartbeat is how often the host and the node leases are renewed.
	Heartbeat time.Duration
	// Workers is how many sandboxes are worked on at once.
	Workers int
	// UsageInterval is how often a running sandbox's usage is read for the
	// meter (the server's meter interval).
	UsageInterval time.Duration
	// DataDir holds pods' volumes (DATA/pods/<uid>) and sandbox networks.
	DataDir string
	// ClusterDNS is the cluster DNS service's address, for pods' resolv.conf.
	ClusterDNS net.IP
	// VPC is routed to a blackhole on the host, under the sandboxes' /32 routes.
	VPC *net.IPNet
	// Services, the service CIDR, is routed locally on the host: the host's
	// own connections to cluster IPs reach kube-proxy's rules, and none
	// leaves the machine (nil: not routed).
	Services *net.IPNet
	// HostIP is the host's address, for NodePorts (nil: loopback).
	HostIP net.IP
	// KubeletAPIAddress is where the kubelet API listens (port 0: any free one);
	// it is published on the Host for the apiserver's egress proxy.
	KubeletAPIAddress string
	// CA verifies the apiserver's client certificate; with CAKey the agent mints
	// its nodes' serving certificates itself, else it asks the CSR API.
	CA    *x509.Certificate
	CAKey crypto.Signer
	Clock clock.WithTicker
}

// Agent is one host's agent.
type Agent struct {
	cfg      Config
	Fargate  *fargate.Reconciler
	Pods     *podworker.Worker
	endpoint string
}

// Progress reports a part that became ready, as `fargo server` prints them.
type Progress func(component, detail string)

// Start wires the agent into mgr (the caller starts mgr) and starts what runs
// beside it until ctx ends: the kubelet API and the service proxy. Parts that
// cannot start but leave pods runnable (the proxy) are reported as warnings.
func Start(ctx context.Context, cfg Config, rc *rest.Config, mgr ctrl.Manager, progress Progress, warn func(error)) (*Agent, error) {
	if cfg.HostName == "" {
		return nil, errors.New("host agent: empty host name (set --host-name)")
	}
	if cfg.Runtime == nil || cfg.DataDir == "" {
		return nil, errors.New("host agent: runtime and data dir are both needed")
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 16
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	// Pods' volumes hold their secrets and service-account tokens.
	for _, d := range []string{cfg.DataDir, filepath.Join(cfg.DataDir, "pods")} {
		if err := datadir.Ensure(d); err != nil {
			return nil, err
		}
	}
	caps := cfg.Runtime.Capabilities()
	var network fargate.Network = noNetwork{}
	if caps.HostNetwork {
		if cfg.VPC != nil {
			if err := cni.BlackholeVPC(cfg.VPC); err != nil {
				return nil, err
			}
		}
		if cfg.Services != nil {
			if err := cni.RouteServices(cfg.Services); err != nil {
				return nil, err
			}
		}
		network = cni.NewDataplane(cfg.HostName, filepath.Join(cfg.DataDir, "network"))
	}
	a := &Agent{cfg: cfg}
	rec := &fargate.Reconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorderFor("kubelet"), Runtime: cfg.Runtime,
		Network: network, Clock: cfg.Clock, Host: cfg.HostName, Region: cfg.Region, KubeletVersion: cfg.KubeletVersion, Workers: cfg.Workers,
		UsageInterval: cfg.UsageInterval}
	pods, err := podworker.New(ctx, podworker.Config{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Recorder: rec.Recorder,
		Runtime: cfg.Runtime, Clock: cfg.Clock, DNS: dns.Config{ClusterDNS: cfg.ClusterDNS, Region: cfg.Region},
		Dir: filepath.Join(cfg.DataDir, "pods"), Wake: rec.Wake})
	if err != nil {
		return nil, err
	}
	rec.Pods = pods
	a.Fargate, a.Pods = rec, pods
	if err := rec.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the host agent: %w", err)
	}
	// Without its kubelet API a host still runs pods: logs and exec are what is lost.
	if a.endpoint, err = a.serveKubeletAPI(ctx, rc); err != nil {
		warn(fmt.Errorf("%w; kubectl logs and exec will not work for pods on host %s", err, cfg.HostName))
	}
	hb := &host.Heartbeat{Client: mgr.GetClient(), Name: cfg.HostName, KubeletEndpoint: a.endpoint, Every: cfg.Heartbeat, Clock: cfg.Clock,
		Spec: v1alpha1.HostSpec{Capacity: cfg.Capacity, Machine: cfg.Machine, Runtime: cfg.Runtime.Name(),
			Isolations: runtime.IsolationsOf(cfg.Runtime)},
		Beats: []func(context.Context) error{rec.Heartbeat}}
	for name, r := range map[string]manager.RunnableFunc{"host heartbeat": hb.Start, "runtime relist": rec.Relist} {
		if err := mgr.Add(r); err != nil {
			return nil, fmt.Errorf("adding the %s: %w", name, err)
		}
	}
	c := cfg.Capacity
	api := "kubelet API on " + a.endpoint
	if a.endpoint == "" {
		api = "no kubelet API"
	}
	progress("host agent", fmt.Sprintf("host %s, runtime %s, %s vCPU and %d MiB for sandboxes, %s", cfg.HostName, cfg.Runtime.Name(),
		strconv.FormatFloat(float64(c.MilliCPU)/1000, 'f', -1, 64), c.MemoryMiB, api))
	if caps.HostNetwork {
		err := proxy.Start(ctx, rc, proxy.Config{HostName: cfg.HostName, HostIP: cfg.HostIP, VPC: cfg.VPC})
		switch {
		case errors.Is(err, proxy.ErrTaken):
			progress("service proxy", "run by another fargo agent on this machine (one nftables table per machine)")
		case err != nil:
			warn(fmt.Errorf("%w; pods cannot reach Services", err))
		default:
			progress("service proxy", "kube-proxy nftables mode")
		}
	}
	return a, nil
}

// serveKubeletAPI listens for the kubelet API and returns its address.
func (a *Agent) serveKubeletAPI(ctx context.Context, rc *rest.Config) (string, error) {
	if a.cfg.CA == nil {
		return "", errors.New("kubelet API: no cluster CA to verify the apiserver with (the kubeconfig has no certificate-authority-data)")
	}
	var certs kubeletapi.Issuer
	if a.cfg.CAKey != nil {
		ca, err := kubeletapi.NewCAIssuer(a.cfg.CA, a.cfg.CAKey)
		if err != nil {
			return "", err
		}
		certs = ca
	} else {
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return "", fmt.Errorf("kubelet API: %w", err)
		}
		certs = &kubeletapi.CSRIssuer{Client: cs, NodeName: func(ip net.IP) string { return names.NodeName(ip, a.cfg.Region) }}
	}
	api, err := kubeletapi.New(a.cfg.Runtime, a.Fargate.SandboxOfPod, a.Fargate.HasNode, a.Fargate.PodOfNode, certs, a.cfg.CA)
	if err != nil {
		return "", err
	}
	if a.cfg.Runtime.Capabilities().HostNetwork {
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return "", fmt.Errorf("kubelet API: %w", err)
		}
		access, err := kubeletapi.NewAccess(cs, a.cfg.CA, func(ip net.IP) string { return names.NodeName(ip, a.cfg.Region) })
		if err != nil {
			return "", err
		}
		a.Fargate.Endpoints = api.ServeEndpoints(ctx, access, a.cfg.CA)
	}
	addr := a.cfg.KubeletAPIAddress
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("kubelet API: listening on %s (set --kubelet-api-address): %w", addr, err)
	}
	go api.Serve(ctx, l)
	return publishable(l.Addr().(*net.TCPAddr), a.cfg.HostIP), nil
}

// publishable is the address others reach a listener at: an unspecified one is
// reached at the host's address (the one it reaches the apiserver from), else
// loopback.
func publishable(l *net.TCPAddr, hostIP net.IP) string {
	ip := l.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if hostIP != nil {
			ip = hostIP
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(l.Port))
}

// localIP is this machine's address towards the apiserver at server (a URL):
// the source address the kernel picks for it. UDP "connects" send nothing.
func localIP(server string) net.IP {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return nil
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "443")
	}
	c, err := net.Dial("udp", host)
	if err != nil {
		return nil
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP
}

// noNetwork is the dataplane of backends that bring their own network (the fake).
type noNetwork struct{}

func (noNetwork) Setup(context.Context, string, net.IP, *net.IPNet) (string, error) { return "", nil }
func (noNetwork) Teardown(context.Context, string) error                            { return nil }
func (noNetwork) Sandboxes() ([]string, error)                                      { return nil, nil }
