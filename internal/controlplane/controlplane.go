package controlplane

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/datadir"
)

// readyTimeout bounds how long start-up waits for any one component.
const readyTimeout = 2 * time.Minute

// Progress is told about each component once it is ready, in start order.
type Progress func(component, detail string)

// ControlPlane is a running control plane.
type ControlPlane struct {
	cfg   *Config
	etcd  *embeddedEtcd
	space *spaceGuard
	// Components stop in reverse start order: controllers first, while the
	// apiserver still answers (some exit the process when it is gone), then the
	// apiserver, then etcd.
	apiServer, controllers component
	failed                 chan error
	// AdminConfig is a client configuration with cluster-admin rights.
	AdminConfig *rest.Config
	// CABundle is the cluster CA (PEM), for webhook registrations.
	CABundle []byte
	// WebhookCertFile and WebhookKeyFile serve fargo's webhooks on 127.0.0.1.
	WebhookCertFile, WebhookKeyFile string
	// ServingCertFile and ServingKeyFile carry the apiserver's names and addresses,
	// for fargo's other APIs on the same host.
	ServingCertFile, ServingKeyFile string
	// Endpoint is the apiserver URL; CreatedAt when the cluster was first started.
	Endpoint  string
	CreatedAt time.Time
	// Advertise is the kubernetes service's endpoint address (nil: none found).
	Advertise net.IP
	// CA and CAKey are the cluster CA, for certificates fargo's host agent mints.
	CA    *x509.Certificate
	CAKey crypto.Signer

	egressDial atomic.Pointer[DialFunc]
}

// Start brings the control plane up in order (etcd, kube-apiserver, CRDs,
// kube-controller-manager, kube-scheduler), returning once all are ready.
func Start(ctx context.Context, cfg *Config, progress Progress) (_ *ControlPlane, err error) {
	for _, d := range []string{cfg.DataDir, cfg.credsDir(), cfg.LogDir} {
		if err := datadir.Ensure(d); err != nil {
			return nil, err
		}
	}
	advertise := advertiseAddress(cfg)
	cs, err := ensureCerts(cfg, advertise)
	if err != nil {
		return nil, fmt.Errorf("preparing certificates in %s: %w", cfg.pkiDir(), err)
	}
	if err := datadir.Private(filepath.Join(cfg.pkiDir(), "*.key"), filepath.Join(cfg.credsDir(), "*")); err != nil {
		return nil, err
	}
	server := "https://" + net.JoinHostPort(cfg.clientHost(), strconv.Itoa(cfg.APIPort))
	kubeconfigs := map[string]*keyPair{
		cfg.KubeconfigPath(): cs.Admin,
		filepath.Join(cfg.credsDir(), "controller-manager.kubeconfig"): cs.ControllerManager,
		filepath.Join(cfg.credsDir(), "scheduler.kubeconfig"):          cs.Scheduler,
	}
	if cfg.WriteKubeconfig != "" {
		kubeconfigs[cfg.WriteKubeconfig] = cs.Admin
	}
	for path, kp := range kubeconfigs {
		if err := writeKubeconfig(path, cfg.ClusterName, server, cs.CA, kp); err != nil {
			return nil, err
		}
	}
	admin, err := clientcmd.BuildConfigFromFlags("", cfg.KubeconfigPath())
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", cfg.KubeconfigPath(), err)
	}

	cp := &ControlPlane{cfg: cfg, failed: make(chan error, 4), AdminConfig: admin,
		CABundle: encodeCertPEM(cs.CA.Cert), WebhookCertFile: cs.Webhook.CertFile, WebhookKeyFile: cs.Webhook.KeyFile,
		ServingCertFile: cs.APIServer.CertFile, ServingKeyFile: cs.APIServer.KeyFile,
		Endpoint: server, CreatedAt: cs.CA.Cert.NotBefore.Add(time.Hour), Advertise: advertise,
		CA: cs.CA.Cert, CAKey: cs.CA.Key}
	cp.apiServer.ctx, cp.apiServer.cancel = context.WithCancel(context.Background())
	cp.controllers.ctx, cp.controllers.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			cp.Stop(10 * time.Second)
		}
	}()

	etcdServers := cfg.EtcdServers
	if len(etcdServers) == 0 {
		if cp.etcd, cp.space, err = startGuardedEtcd(ctx, cfg, cs); err != nil {
			return nil, err
		}
		etcdServers = []string{cp.etcd.clientURL}
		progress("etcd", "embedded, "+cp.etcd.clientURL)
	} else {
		if err := checkExternalEtcd(ctx, cfg); err != nil {
			return nil, err
		}
		progress("etcd", "external, "+fmt.Sprint(etcdServers))
	}

	readyCtx, readyCancel := context.WithTimeout(ctx, readyTimeout)
	defer readyCancel()

	if err := writeEgressConfig(cfg); err != nil {
		return nil, fmt.Errorf("writing the apiserver's egress configuration: %w", err)
	}
	if err := cp.serveEgress(cp.apiServer.ctx, cfg); err != nil {
		return nil, err
	}
	cp.run(&cp.apiServer, "kube-apiserver", func(ctx context.Context) error {
		return runAPIServer(ctx, apiServerArgs(cfg, cs, etcdServers, advertise))
	})
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, fmt.Errorf("creating API client: %w", err)
	}
	if err := waitFor(readyCtx, "kube-apiserver", cp.failed, apiServerReady(client)); err != nil {
		return nil, err
	}
	progress("kube-apiserver", server)

	ext, err := apiextensions.NewForConfig(admin)
	if err != nil {
		return nil, fmt.Errorf("creating apiextensions client: %w", err)
	}
	names, err := installCRDs(readyCtx, ext)
	if err != nil {
		return nil, err
	}
	progress("CRDs", fmt.Sprint(names))

	cmKubeconfig := filepath.Join(cfg.credsDir(), "controller-manager.kubeconfig")
	cp.run(&cp.controllers, "kube-controller-manager", func(ctx context.Context) error {
		return runControllerManager(ctx, controllerManagerArgs(cfg, cs, cmKubeconfig))
	})
	schedKubeconfig := filepath.Join(cfg.credsDir(), "scheduler.kubeconfig")
	cp.run(&cp.controllers, "kube-scheduler", func(ctx context.Context) error {
		return runScheduler(ctx, schedulerArgs(cfg, schedKubeconfig))
	})
	for _, c := range []struct {
		name string
		port int
	}{{"kube-controller-manager", cfg.ControllerManagerPort}, {"kube-scheduler", cfg.SchedulerPort}} {
		if err := waitFor(readyCtx, c.name, cp.failed, httpHealthy(c.port)); err != nil {
			return nil, err
		}
		progress(c.name, "https://127.0.0.1:"+strconv.Itoa(c.port))
	}
	return cp, nil
}

// component is a group of goroutines stopped together.
type component struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// stop cancels the group and waits until it has returned or deadline passes.
func (c *component) stop(deadline time.Time) bool {
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(time.Until(deadline)):
		return false
	}
}

// run starts a component in group g; an exit before Stop is reported on Failed.
func (cp *ControlPlane) run(g *component, name string, f func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := f(g.ctx)
		if g.ctx.Err() != nil {
			return // stopping
		}
		if err == nil {
			err = errors.New("exited")
		}
		cp.failed <- fmt.Errorf("%s: %w", name, err)
	}()
}

// DataDir is where the control plane keeps its state.
func (cp *ControlPlane) DataDir() string { return cp.cfg.DataDir }

// Failed reports a component that stopped on its own; the control plane is then broken.
func (cp *ControlPlane) Failed() <-chan error { return cp.failed }

// Stop stops the components in reverse start order within timeout in all, then
// closes etcd so its data is consistent on disk.
func (cp *ControlPlane) Stop(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	if !cp.controllers.stop(deadline.Add(-timeout / 2)) {
		klog.Warning("kube-controller-manager or kube-scheduler still running; stopping kube-apiserver anyway")
	}
	if !cp.apiServer.stop(deadline) {
		klog.Warningf("kube-apiserver still running after %s; closing etcd anyway", timeout)
	}
	if cp.space != nil {
		cp.space.Stop()
	}
	if cp.etcd != nil {
		cp.etcd.Close()
	}
}

// advertiseAddress is what the kubernetes service points at: the configured address,
// else the bind address when it is routable, else the host's first global IPv4
// address; nil when there is none.
func advertiseAddress(c *Config) net.IP {
	if c.AdvertiseAddress != nil {
		return c.AdvertiseAddress
	}
	if c.BindAddress != nil && !c.BindAddress.IsUnspecified() && !c.BindAddress.IsLoopback() {
		return c.BindAddress
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.To4()
		}
	}
	return nil
}
