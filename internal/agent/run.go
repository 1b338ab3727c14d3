package agent

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/fargo-dev/fargo/internal/ownwrites"
	"github.com/fargo-dev/fargo/internal/scheme"
)

// ClusterInfo is the ConfigMap `fargo server` publishes its cluster's name,
// region, VPC and DNS address in, for agents that join it.
var ClusterInfo = client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: "fargo-cluster"}

// Run runs an agent against the server rc points at until ctx ends: `fargo
// agent`, on the server's machine (with a data dir of its own) or another one.
// It is the same Start as the server's built-in agent, with a manager of its own.
func Run(ctx context.Context, rc *rest.Config, o *Options, dataDir, kubeletVersion string, out io.Writer) error {
	start := time.Now()
	// As the built-in agent: the apiserver's priority and fairness paces the
	// agent, not client-go's default 5 requests/s, which would cap a host at a
	// few pods a second.
	rc = rest.CopyConfig(rc)
	rc.QPS = -1
	direct, err := client.New(rc, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", rc.Host, err)
	}
	info := &corev1.ConfigMap{}
	if err := direct.Get(ctx, ClusterInfo, info); err != nil {
		return fmt.Errorf("reading cluster info from %s (is it a fargo server?): %w", rc.Host, err)
	}
	_, vpc, err := net.ParseCIDR(info.Data["vpcCIDR"])
	if err != nil {
		return fmt.Errorf("cluster info from %s has no VPC CIDR (%q): upgrade the fargo server", rc.Host, info.Data["vpcCIDR"])
	}
	ca, err := clusterCA(rc)
	if err != nil {
		return err
	}
	logDir := filepath.Join(dataDir, "logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir %s: %w", dataDir, err)
	}
	cluster := Cluster{Region: info.Data["region"], VPC: vpc, DNS: net.ParseIP(info.Data["clusterDNS"]).To4(), CA: ca}
	if _, services, err := net.ParseCIDR(info.Data["serviceCIDR"]); err == nil {
		cluster.Services = services
	}
	warn := func(err error) { fmt.Fprintf(out, "warning: %v\n", err) }
	ac, err := o.Config(ctx, cluster, kubeletVersion, dataDir, logDir, warn)
	if err != nil {
		return err
	}
	ac.HostIP = localIP(rc.Host)
	ac.UsageInterval, _ = time.ParseDuration(info.Data["meterInterval"]) // none from an older server: the default
	if ac.HostIP != nil && !ac.HostIP.IsLoopback() && isLoopbackAddress(ac.KubeletAPIAddress) {
		fmt.Fprintf(out, "warning: the kubelet API listens on %s, which the server at %s cannot reach: kubectl logs and exec will not work for pods here; set --kubelet-api-address %s:10250 (or 0.0.0.0:10250)\n",
			ac.KubeletAPIAddress, rc.Host, ac.HostIP)
	}
	defer ac.Runtime.Close()
	ctrl.SetLogger(klog.NewKlogr())
	mgr, err := ctrl.NewManager(rc, ctrl.Options{Scheme: scheme.Scheme, NewClient: ownwrites.NewClient, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return fmt.Errorf("creating controller manager: %w", err)
	}
	fmt.Fprintf(out, "joining cluster %s (%s) at %s\n", info.Data["name"], ac.Region, rc.Host)
	progress := func(component, detail string) {
		fmt.Fprintf(out, "[%6.2fs] %-24s ready  %s\n", time.Since(start).Seconds(), component, detail)
	}
	if _, err := Start(ctx, ac, rc, mgr, progress, warn); err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("host agent: %w", err)
	}
	return nil
}

func isLoopbackAddress(hostPort string) bool {
	h, _, err := net.SplitHostPort(hostPort)
	ip := net.ParseIP(h)
	return err == nil && (h == "localhost" || (ip != nil && ip.IsLoopback()))
}

// clusterCA is the CA the kubeconfig trusts the server with: the cluster CA,
// which also signs the apiserver's kubelet client certificate.
func clusterCA(rc *rest.Config) (*x509.Certificate, error) {
	data := rc.CAData
	if len(data) == 0 && rc.CAFile != "" {
		var err error
		if data, err = os.ReadFile(rc.CAFile); err != nil {
			return nil, fmt.Errorf("reading the cluster CA: %w", err)
		}
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, nil // Start says what is lost without it
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the cluster CA: %w", err)
	}
	return ca, nil
}
