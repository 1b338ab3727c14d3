package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fargo-dev/fargo/internal/agent"
	"github.com/fargo-dev/fargo/internal/clusterconfig"
	"github.com/fargo-dev/fargo/internal/controlplane"
	"github.com/fargo-dev/fargo/internal/ownwrites"
	"github.com/fargo-dev/fargo/internal/profile"
	"github.com/fargo-dev/fargo/internal/profile/lifecycle"
	"github.com/fargo-dev/fargo/internal/scheduler"
	"github.com/fargo-dev/fargo/internal/scheme"
	"github.com/fargo-dev/fargo/internal/webhook"
	v1alpha1 "github.com/fargo-dev/fargo/pkg/apis/fargo/v1alpha1"
)

// controllers are fargo's own controllers and webhooks, run by one manager.
type controllers struct {
	cancel context.CancelFunc
	done   chan error
	client client.Client
	// agent is the built-in host agent (nil with --runtime none).
	agent *agent.Agent
}

// startControllers runs the profile lifecycle controller, the fargate-scheduler,
// the built-in host agent (hostStart, when there is one) and the admission
// webhooks in one manager, and registers the webhooks once they serve.
func startControllers(cp *controlplane.ControlPlane, cluster *clusterconfig.Cluster, pc profile.Cluster, port int, placement scheduler.Placement,
	reserved func(net.IP) bool, setup func(ctrl.Manager) error, hostStart func(ctrl.Manager) (*agent.Agent, error)) (*controllers, error) {
	ctrl.SetLogger(klog.NewKlogr())
	cfg := rest.CopyConfig(cp.AdminConfig)
	cfg.QPS = -1 // no client-side throttling: the apiserver's priority and fairness paces us
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.Scheme,
		NewClient:              ownwrites.NewClient,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: crwebhook.NewServer(crwebhook.Options{
			Host: "127.0.0.1", Port: port,
			CertDir: filepath.Dir(cp.WebhookCertFile), CertName: filepath.Base(cp.WebhookCertFile), KeyName: filepath.Base(cp.WebhookKeyFile),
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("creating controller manager: %w", err)
	}
	if err := (&lifecycle.Reconciler{Client: mgr.GetClient(), Cluster: pc}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Fargate profile controller: %w", err)
	}
	sched := &scheduler.Scheduler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
		Recorder: mgr.GetEventRecorderFor(v1alpha1.SchedulerName), Region: pc.Region, Subnets: schedulerSubnets(cluster),
		Placement: placement, Reserved: reserved, Clock: clock.RealClock{}}
	if err := sched.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the fargate-scheduler: %w", err)
	}
	readmit := &webhook.Readmitter{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("fargo-webhook"), Clock: clock.RealClock{}}
	if err := readmit.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the re-admission of pods the webhook missed: %w", err)
	}
	if setup != nil {
		if err := setup(mgr); err != nil {
			return nil, err
		}
	}
	var hostAgent *agent.Agent
	if hostStart != nil {
		if hostAgent, err = hostStart(mgr); err != nil {
			return nil, err
		}
	}
	ws := mgr.GetWebhookServer()
	probe := webhook.NewProbe()
	ws.Register(webhook.ProfileDefaultPath, &admission.Webhook{Handler: &webhook.ProfileDefaulter{Cluster: pc, Probe: probe}})
	ws.Register(webhook.ProfileValidatePath, &admission.Webhook{Handler: &webhook.ProfileValidator{Cluster: pc, Reader: mgr.GetAPIReader()}})
	ws.Register(webhook.PodMutatePath, &admission.Webhook{Handler: &webhook.PodMutator{Profiles: mgr.GetClient(), Reader: mgr.GetAPIReader()}})

	direct, err := client.New(cp.AdminConfig, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return nil, fmt.Errorf("creating API client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &controllers{cancel: cancel, done: make(chan error, 1), client: direct, agent: hostAgent}
	cp.SetEgressDial(routeByNode(mgr.GetClient(), cluster.VPCNet))
	go func() { c.done <- mgr.Start(ctx) }()
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		select {
		case err := <-c.done:
			return false, fmt.Errorf("controller manager exited: %w", err)
		default:
		}
		return ws.StartedChecker()(nil) == nil, nil
	})
	// The pod webhook reads profiles from the cache and, failing open as EKS's does,
	// would let pods through unmutated; so be synced before saying ready.
	if err == nil && !mgr.GetCache().WaitForCacheSync(ctx) {
		err = errors.New("controller caches did not sync")
	}
	if err == nil {
		err = webhook.Register(ctx, direct, port, cp.CABundle)
	}
	if err != nil {
		c.stop(5 * time.Second)
		return nil, err
	}
	// Ready once the API server calls the pod webhook, not merely once it is
	// registered; a server where it never does still runs, said loudly.
	if err := probe.Wait(ctx, direct, webhookProbeTimeout); err != nil {
		klog.Warningf("pods may not reach the fargate-scheduler: %v", err)
	}
	return c, nil
}

// webhookProbeTimeout bounds the wait for the API server to call the pod webhook.
const webhookProbeTimeout = 30 * time.Second

// schedulerSubnets are the cluster's private subnets, parsed (the config is validated).
func schedulerSubnets(c *clusterconfig.Cluster) map[string]scheduler.Subnet {
	out := map[string]scheduler.Subnet{}
	for _, s := range c.PrivateSubnets() {
		if _, n, err := net.ParseCIDR(s.CIDR); err == nil {
			out[s.ID] = scheduler.Subnet{Net: n, Zone: s.AZ}
		}
	}
	return out
}

// stop ends the manager, waiting at most timeout.
func (c *controllers) stop(timeout time.Duration) {
	c.cancel()
	select {
	case <-c.done:
	case <-time.After(timeout):
		klog.Warning("fargo controllers still running at shutdown")
	}
}

// createProfiles creates the profiles of the cluster config that do not exist yet,
// one at a time, waiting for each to be ACTIVE, as eksctl does. A start is
// idempotent: a profile that exists as configured is kept; one that differs is
// reported (profiles are immutable) and left as it is, never a reason to stop.
func createProfiles(ctx context.Context, c client.Client, pc profile.Cluster, profiles []clusterconfig.FargateProfile, progress func(name, state string)) error {
	for _, fp := range profiles {
		want := ProfileObject(fp)
		profile.Default(&want.Spec, pc)
		have := &v1alpha1.FargateProfile{}
		err := c.Get(ctx, client.ObjectKey{Name: fp.Name}, have)
		switch {
		case err == nil:
			progress(fp.Name, existingProfile(have, want))
			continue
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("reading Fargate profile %s of the cluster config: %w", fp.Name, err)
		}
		if err := c.Create(ctx, want); err != nil {
			return fmt.Errorf("creating Fargate profile %s from the cluster config: %w", fp.Name, err)
		}
		if err := WaitProfileState(ctx, c, fp.Name, v1alpha1.ProfileActive, time.Minute); err != nil {
			return err
		}
		progress(fp.Name, "ACTIVE")
	}
	return nil
}

// existingProfile describes a config profile found in the cluster at start.
func existingProfile(have, want *v1alpha1.FargateProfile) string {
	state := string(profile.State(have))
	var differs []string
	if !equality.Semantic.DeepEqual(have.Spec.Selectors, want.Spec.Selectors) {
		differs = append(differs, "selectors")
	}
	if !slices.Equal(slices.Sorted(slices.Values(have.Spec.Subnets)), slices.Sorted(slices.Values(want.Spec.Subnets))) {
		differs = append(differs, "subnets")
	}
	if have.Spec.PodExecutionRoleArn != want.Spec.PodExecutionRoleArn {
		differs = append(differs, "podExecutionRoleARN")
	}
	if len(differs) == 0 {
		return state + ", kept"
	}
	klog.InfoS("Fargate profile in the cluster config differs from the one in the cluster; profiles are immutable, the cluster's is kept",
		"profile", have.Name, "fields", differs)
	return fmt.Sprintf("%s, kept: its %s differ from the config; profiles are immutable, so delete it (fargo delete fargateprofile --name %s) for the config's to be created at the next start",
		state, strings.Join(differs, " and "), have.Name)
}

// ProfileObject turns a cluster-config profile into the API object.
func ProfileObject(fp clusterconfig.FargateProfile) *v1alpha1.FargateProfile {
	p := &v1alpha1.FargateProfile{}
	p.Name = fp.Name
	p.Spec = v1alpha1.FargateProfileSpec{PodExecutionRoleArn: fp.PodExecutionRoleARN, Subnets: fp.Subnets, Tags: fp.Tags}
	for _, s := range fp.Selectors {
		p.Spec.Selectors = append(p.Spec.Selectors, v1alpha1.FargateProfileSelector{Namespace: s.Namespace, Labels: s.Labels})
	}
	return p
}

// WaitProfileState waits until profile name reaches state.
func WaitProfileState(ctx context.Context, c client.Client, name string, state v1alpha1.FargateProfileState, timeout time.Duration) error {
	var last v1alpha1.FargateProfileState
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p := &v1alpha1.FargateProfile{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		last = profile.State(p)
		if last == v1alpha1.ProfileCreateFailed || last == v1alpha1.ProfileDeleteFailed {
			return false, fmt.Errorf("Fargate profile %s is %s", name, last)
		}
		return last == state, nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("waiting for Fargate profile %s to be %s (it is %s): %w", name, state, last, err)
	}
	return err
}
