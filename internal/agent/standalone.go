package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/fargo-dev/fargo/internal/network/proxy"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// clusterInfo is the ConfigMap `fargo server` publishes its cluster's name and
// region in.
var clusterInfo = client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: "fargo-cluster"}

// RunStandalone runs an agent against the server cfg points at until ctx ends:
// `fargo agent` on a machine other than the server's.
func RunStandalone(ctx context.Context, cfg *rest.Config, o *Options, dataDir, kubeletVersion string, out io.Writer) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", cfg.Host, err)
	}
	info := &corev1.ConfigMap{}
	if err := direct.Get(ctx, clusterInfo, info); err != nil {
		return fmt.Errorf("reading cluster info from %s (is it a fargo server?): %w", cfg.Host, err)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "logs"), 0o700); err != nil {
		return fmt.Errorf("creating data dir %s: %w", dataDir, err)
	}
	_, vpc, err := net.ParseCIDR(info.Data["vpcCIDR"])
	if err != nil {
		return fmt.Errorf("cluster info from %s has no VPC CIDR (%q): upgrade the fargo server", cfg.Host, info.Data["vpcCIDR"])
	}
	ac, err := o.Config(ctx, Cluster{Region: info.Data["region"], VPC: vpc, DNS: net.ParseIP(info.Data["clusterDNS"]).To4()}, kubeletVersion, dataDir, filepath.Join(dataDir, "logs"))
	if err != nil {
		return err
	}
	a, err := New(ac)
	if err != nil {
		return err
	}
	ctrl.SetLogger(klog.NewKlogr())
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return fmt.Errorf("creating controller manager: %w", err)
	}
	if err := a.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the host agent: %w", err)
	}
	fmt.Fprintf(out, "host agent: host %s of cluster %s (%s) at %s, runtime %s, %s vCPU and %d MiB for sandboxes\n",
		ac.HostName, info.Data["name"], ac.Region, cfg.Host, ac.Runtime.Name(),
		strconv.FormatFloat(float64(ac.Capacity.MilliCPU)/1000, 'f', -1, 64), ac.Capacity.MemoryMiB)
	defer ac.Runtime.Close()
	if ac.Runtime.Name() == RuntimeContainerd {
		if err := proxy.Start(ctx, cfg, proxy.Config{HostName: ac.HostName, VPC: vpc}); err != nil {
			fmt.Fprintf(out, "warning: %v; pods cannot reach Services\n", err)
		} else {
			fmt.Fprintln(out, "service proxy: kube-proxy nftables mode")
		}
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("host agent: %w", err)
	}
	return nil
}
