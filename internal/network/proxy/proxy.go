// Package proxy routes Service cluster IPs on a host: upstream kube-proxy's
// nftables proxier, embedded. Every sandbox's traffic leaves through the host (its
// default route is the host end of its veth), so one proxier per host serves all
// of them, as kube-proxy on a node serves that node's pods.
//
// kube-proxy's own command is not used: it waits for, and exits when, a Node named
// after the host changes, and a fargo host is not a node (each sandbox is).
package proxy

import (
	"context"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	"k8s.io/kubernetes/pkg/proxy/apis"
	kubeproxyconfig "k8s.io/kubernetes/pkg/proxy/apis/config"
	proxyscheme "k8s.io/kubernetes/pkg/proxy/apis/config/scheme"
	proxyconfig "k8s.io/kubernetes/pkg/proxy/config"
	proxymetrics "k8s.io/kubernetes/pkg/proxy/metrics"
	"k8s.io/kubernetes/pkg/proxy/nftables"
	proxyutil "k8s.io/kubernetes/pkg/proxy/util"
)

// Config is what the proxier needs to know of its host and cluster.
type Config struct {
	// HostName names the proxier's events; endpoints on it would count as local.
	HostName string
	// HostIP is the host's address, for NodePorts; nil: loopback, as kube-proxy
	// falls back to when it finds none.
	HostIP net.IP
	// VPC holds every pod IP: traffic from it is cluster traffic, not masqueraded.
	VPC *net.IPNet
}

// Start programs the host's nftables from Services and EndpointSlices until ctx
// ends; it returns once the proxier is set up. The rules stay after ctx ends, so
// connections survive a restart; the next Start takes them over.
//
// Only one proxier runs per machine (the table is machine-wide): when another
// process holds it, Start returns ErrTaken.
func Start(ctx context.Context, rc *rest.Config, c Config) error {
	cfg, err := proxierConfig(c)
	if err != nil {
		return err
	}
	held, err := lock()
	if err != nil {
		return err
	}
	started := false
	defer func() {
		if !started {
			held.Close() // failed: let another agent on the machine take over
		}
	}()
	client, err := kubernetes.NewForConfig(rest.CopyConfig(rc))
	if err != nil {
		return fmt.Errorf("service proxy: %w", err)
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	broadcaster.StartRecordingToSink(ctx.Done())
	recorder := broadcaster.NewRecorder(proxyscheme.Scheme, "kube-proxy")

	hostIP := c.HostIP
	if hostIP == nil {
		hostIP = net.IPv4(127, 0, 0, 1)
	}
	proxymetrics.RegisterMetrics(kubeproxyconfig.ProxyModeNFTables)
	proxier, err := nftables.NewProxier(ctx, cfg, corev1.IPv4Protocol, proxyutil.NewDetectLocalByCIDR(c.VPC.String()),
		c.HostName, hostIP, recorder, nil, false)
	if err != nil {
		return fmt.Errorf("service proxy: starting kube-proxy's nftables proxier (needs nft ≥ 1.0.1 and kernel ≥ 5.13): %w", err)
	}

	// As kube-proxy: no services another proxy claims, no headless ones.
	noProxyName, _ := labels.NewRequirement(apis.LabelServiceProxyName, selection.DoesNotExist, nil)
	noHeadless, _ := labels.NewRequirement(corev1.IsHeadlessService, selection.DoesNotExist, nil)
	resync := cfg.ConfigSyncPeriod.Duration
	services := informers.NewSharedInformerFactoryWithOptions(client, resync, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = labels.NewSelector().Add(*noProxyName).String()
		o.FieldSelector = fields.OneTermNotEqualSelector("spec.clusterIP", corev1.ClusterIPNone).String()
	}))
	slices := informers.NewSharedInformerFactoryWithOptions(client, resync, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = labels.NewSelector().Add(*noHeadless).String()
	}))
	cidrs := informers.NewSharedInformerFactory(client, resync)

	sc := proxyconfig.NewServiceConfig(ctx, services.Core().V1().Services(), resync)
	sc.RegisterEventHandler(proxier)
	go sc.Run(ctx.Done())
	ec := proxyconfig.NewEndpointSliceConfig(ctx, slices.Discovery().V1().EndpointSlices(), resync)
	ec.RegisterEventHandler(proxier)
	go ec.Run(ctx.Done())
	cc := proxyconfig.NewServiceCIDRConfig(ctx, cidrs.Networking().V1().ServiceCIDRs(), resync)
	cc.RegisterEventHandler(proxier)
	go cc.Run(ctx.Done())
	for _, f := range []informers.SharedInformerFactory{services, slices, cidrs} {
		f.Start(ctx.Done())
	}
	go proxier.SyncLoop()
	started = true
	go func() {
		<-ctx.Done()
		broadcaster.Shutdown()
		held.Close() // the next Start (after a restart) takes over
	}()
	return nil
}

// proxierConfig is kube-proxy's default configuration in nftables mode, with
// pod traffic told apart by the VPC CIDR.
func proxierConfig(c Config) (*kubeproxyconfig.KubeProxyConfiguration, error) {
	if c.VPC == nil || c.HostName == "" {
		return nil, fmt.Errorf("service proxy: host name and VPC CIDR are required")
	}
	ext := &kubeproxyv1alpha1.KubeProxyConfiguration{}
	proxyscheme.Scheme.Default(ext)
	cfg := &kubeproxyconfig.KubeProxyConfiguration{}
	if err := proxyscheme.Scheme.Convert(ext, cfg, nil); err != nil {
		return nil, fmt.Errorf("service proxy: defaulting kube-proxy's configuration: %w", err)
	}
	cfg.Mode = kubeproxyconfig.ProxyModeNFTables
	cfg.HostnameOverride = c.HostName
	cfg.DetectLocalMode = kubeproxyconfig.LocalModeClusterCIDR
	cfg.DetectLocal.ClusterCIDRs = []string{c.VPC.String()}
	// Services change often in tests and demos; kube-proxy's 1 s floor is the
	// right trade-off on a busy host, but a lone host can apply changes at once.
	cfg.MinSyncPeriod = metav1.Duration{Duration: 100 * time.Millisecond}
	return cfg, nil
}
