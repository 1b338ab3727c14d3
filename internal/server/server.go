package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/fargo-dev/fargo/internal/agent"
	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/controlplane"
	"github.com/fargo-dev/fargo/internal/network/lb"
	"github.com/fargo-dev/fargo/internal/scheduler"
	"github.com/fargo-dev/fargo/internal/version"
)

var accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// stopTimeout keeps the whole shutdown under the 10 s a service manager allows.
const stopTimeout = 8 * time.Second

// Run starts the server and blocks until SIGINT/SIGTERM or a component fails.
// Progress goes to out, one line per component as it becomes ready.
func Run(o *Options, out io.Writer) error {
	start := time.Now()
	tuneGC()
	notify := takeNotifySocket()
	placement, err := scheduler.ParsePlacement(o.Placement)
	if err != nil {
		return fmt.Errorf("--placement: %w", err)
	}
	cluster, err := o.loadCluster()
	if err != nil {
		return err
	}
	cfg, err := o.controlPlaneConfig(cluster)
	if err != nil {
		return err
	}
	warn := func(err error) { fmt.Fprintf(out, "warning: %v\n", err) }
	cfg.Warn = warn
	if err := controlplane.CheckPorts(o.ports()); err != nil {
		return err
	}
	if err := setupLogging(cfg.LogDir, o.Verbosity); err != nil {
		return err
	}
	if err := captureStderr(cfg.LogDir); err != nil {
		return err
	}
	var hostCfg *agent.Config
	if o.Host.Enabled() {
		c, err := o.Host.Config(context.Background(), agent.Cluster{Region: cluster.Metadata.Region, VPC: cluster.VPCNet, Services: cluster.ServiceNet, DNS: cluster.ClusterDNS()}, version.Kubernetes, cfg.DataDir, cfg.LogDir, warn)
		if err != nil {
			return err
		}
		// Last out: containerd stops after everything that uses it; shims and
		// containers keep running for the next start to adopt.
		defer c.Runtime.Close()
		c.UsageInterval = cluster.Fargo.Metering.IntervalDuration
		hostCfg = &c
	}

	source := cluster.Source
	if source == "" {
		source = "default config"
	}
	fmt.Fprintf(out, "%s\n", version.String())
	fmt.Fprintf(out, "cluster %s in %s (%s), VPC %s, services %s, data in %s, logs in %s\n",
		cluster.Metadata.Name, cluster.Metadata.Region, source, cluster.VPCNet, cluster.ServiceNet, cfg.DataDir, cfg.LogDir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	progress := func(component, detail string) {
		fmt.Fprintf(out, "[%6.2fs] %-24s ready  %s\n", time.Since(start).Seconds(), component, detail)
	}
	cp, err := controlplane.Start(ctx, cfg, progress)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted during start-up")
		}
		return fmt.Errorf("starting control plane: %w (logs in %s)", err, cfg.LogDir)
	}
	apiCtx, stopAPI := context.WithCancel(context.Background())
	defer stopAPI()
	st := &started{o: o, cfg: cfg, cluster: cluster, cp: cp, pc: cluster.ProfileCluster(o.AccountID), placement: placement, lbs: &lb.Addresses{},
		host: hostCfg, apiCtx: apiCtx, apiFailed: make(chan error, 1), progress: progress, out: out}
	st.prepareDNS()
	if err := st.newNodeGroups(ctx); err != nil {
		cp.Stop(stopTimeout)
		return err
	}
	for _, c := range st.components() {
		detail, err := c.start(ctx)
		if err != nil {
			st.stopNodeGroups()
			if st.ctrls != nil {
				st.ctrls.stop(stopTimeout / 2)
			}
			cp.Stop(stopTimeout)
			return fmt.Errorf("starting %s: %w (logs in %s)", c.name, err, cfg.LogDir)
		}
		if detail != "" {
			progress(c.name, detail)
		}
	}
	ctrls, apiFailed := st.ctrls, st.apiFailed
	fmt.Fprintf(out, "fargo is ready in %.2fs\n", time.Since(start).Seconds())
	fmt.Fprintf(out, "kubeconfig: %s\n", cfg.KubeconfigPath())
	printNext(out, cfg.KubeconfigPath(), cluster.Metadata.Name)
	notify(notifyReady) // under systemd (Type=notify), systemctl start returns now

	var runErr error
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "stopping (signal received; a second one exits at once)")
	case runErr = <-cp.Failed():
		fmt.Fprintf(out, "stopping: %v\n", runErr)
	case runErr = <-apiFailed:
		fmt.Fprintf(out, "stopping: %v\n", runErr)
	case runErr = <-ctrls.done:
		runErr = fmt.Errorf("fargo controllers: %w", runErr)
		fmt.Fprintf(out, "stopping: %v\n", runErr)
	}
	notify(notifyStopping)
	stop() // restore default signal handling: a second signal kills the process
	enterShutdown()
	stopAPI()
	st.stopNodeGroups()
	ctrls.stop(stopTimeout / 4)
	cp.Stop(stopTimeout * 3 / 4)
	klog.Flush()
	fmt.Fprintln(out, "stopped")
	if runErr != nil {
		return fmt.Errorf("control plane failed: %w (logs in %s)", runErr, cfg.LogDir)
	}
	return nil
}

func (o *Options) loadCluster() (*clusterconfig.Cluster, error) {
	ov := clusterconfig.Overrides{Name: o.ClusterName, Region: o.Region, ServiceCIDR: o.ServiceCIDR}
	var c *clusterconfig.Cluster
	var err error
	if o.ConfigFile == "" {
		ov.DefaultNodeGroup = !o.WithoutNodeGroup && !o.Fargate
		if c, err = clusterconfig.Default(ov); err != nil {
			return nil, fmt.Errorf("invalid --cluster-name, --region or --service-cidr: %w", err)
		}
	} else if c, err = clusterconfig.Load(o.ConfigFile, ov); err != nil {
		return nil, err
	}
	m := &c.Fargo.Metering
	if err := o.Meter.Apply(&m.StopRule, &m.IntervalDuration, &m.RetentionDuration); err != nil {
		return nil, err
	}
	if h := c.Fargo.Host; o.Host.CPUOvercommit == 0 && o.Host.CPU == "" {
		o.Host.CPUOvercommit = h.CPUOvercommit
	}
	if h := c.Fargo.Host; o.Host.MemoryOvercommit == 0 && o.Host.Memory == "" {
		o.Host.MemoryOvercommit = h.MemoryOvercommit
	}
	if o.Meter.Off {
		m.IntervalDuration = -1 // agents read no usage (they learn it from the cluster info)
	}
	return c, nil
}

func (o *Options) controlPlaneConfig(cluster *clusterconfig.Cluster) (*controlplane.Config, error) {
	bind := parseIP(o.BindAddress)
	if bind == nil {
		return nil, fmt.Errorf("--bind-address %q is not an IP address", o.BindAddress)
	}
	advertise := parseIP(o.AdvertiseAddress)
	if o.AdvertiseAddress != "" && (advertise == nil || advertise.IsLoopback() || advertise.IsUnspecified()) {
		return nil, fmt.Errorf("--advertise-address %q must be a routable IP address", o.AdvertiseAddress)
	}
	if !accountIDRE.MatchString(o.AccountID) {
		return nil, fmt.Errorf("--account-id %q must be 12 digits, like an AWS account id", o.AccountID)
	}
	if (o.EtcdCertFile == "") != (o.EtcdKeyFile == "") {
		return nil, errors.New("--etcd-certfile and --etcd-keyfile must be given together")
	}
	if len(o.EtcdServers) == 0 && (o.EtcdCAFile != "" || o.EtcdCertFile != "") {
		return nil, errors.New("--etcd-cafile, --etcd-certfile and --etcd-keyfile need --etcd-servers")
	}
	minFree, reserved := o.EtcdMinFree.Value(), o.EtcdReserved.Value()
	if minFree < 0 || reserved < 0 {
		return nil, fmt.Errorf("--etcd-min-free-space %s and --etcd-reserved-space %s cannot be negative", &o.EtcdMinFree, &o.EtcdReserved)
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("resolving --data-dir: %w", err)
	}
	logDir, err := filepath.Abs(o.logDir())
	if err != nil {
		return nil, fmt.Errorf("resolving --log-dir: %w", err)
	}
	return &controlplane.Config{
		DataDir:               dataDir,
		BindAddress:           bind,
		AdvertiseAddress:      advertise,
		APIPort:               o.APIPort,
		ServiceCIDR:           cluster.ServiceNet,
		ClusterName:           cluster.Metadata.Name,
		EtcdServers:           o.EtcdServers,
		EtcdCAFile:            o.EtcdCAFile,
		EtcdCertFile:          o.EtcdCertFile,
		EtcdKeyFile:           o.EtcdKeyFile,
		EtcdClientPort:        o.EtcdClientPort,
		EtcdPeerPort:          o.EtcdPeerPort,
		EtcdMinFreeSpace:      minFree,
		EtcdReservedSpace:     reserved,
		ControllerManagerPort: o.ControllerManagerPort,
		SchedulerPort:         o.SchedulerPort,
		LeaderElect:           o.LeaderElect,
		Profiling:             o.Profiling,
		WriteKubeconfig:       o.WriteKubeconfig,
		LogDir:                logDir,
		Verbosity:             o.Verbosity,
	}, nil
}

// profiles are the cluster config's Fargate profiles, plus fp-default with --fargate.
func (o *Options) profiles(c *clusterconfig.Cluster) []clusterconfig.FargateProfile {
	out := c.FargateProfiles
	if o.Fargate {
		out = append(out, clusterconfig.FargateProfile{Name: "fp-default", Selectors: []clusterconfig.Selector{{Namespace: "default"}, {Namespace: "kube-system"}}})
	}
	return out
}

// ports lists every port the server opens, with the flag that sets it.
func (o *Options) ports() []controlplane.Port {
	ports := []controlplane.Port{
		{Flag: "--api-port", Host: o.BindAddress, Port: o.APIPort},
		{Flag: "--controller-manager-port", Host: "127.0.0.1", Port: o.ControllerManagerPort},
		{Flag: "--scheduler-port", Host: "127.0.0.1", Port: o.SchedulerPort},
		{Flag: "--webhook-port", Host: "127.0.0.1", Port: o.WebhookPort},
		{Flag: "--eks-api-port", Host: o.BindAddress, Port: o.EKSAPIPort},
	}
	if len(o.EtcdServers) == 0 {
		ports = append(ports,
			controlplane.Port{Flag: "--etcd-client-port", Host: "127.0.0.1", Port: o.EtcdClientPort},
			controlplane.Port{Flag: "--etcd-peer-port", Host: "127.0.0.1", Port: o.EtcdPeerPort})
	}
	return ports
}
