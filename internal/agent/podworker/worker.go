// Package podworker runs the pods an agent is given, as kubelet's pod workers
// do, whatever kind of node they are on: it is handed a pod and a Placement
// (runtime sandbox, pod IP, node) and drives the pod's containers toward its
// spec through the runtime, writing the pod's status. Its stateful parts are
// leaf packages beside it, each with explicit dependencies: prober, status,
// volumes, dns, envvars, images (and refs, which env and volumes share).
package podworker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fargo-dev/fargo/internal/agent/podworker/dns"
	"github.com/fargo-dev/fargo/internal/agent/podworker/envvars"
	"github.com/fargo-dev/fargo/internal/agent/podworker/images"
	"github.com/fargo-dev/fargo/internal/agent/podworker/prober"
	"github.com/fargo-dev/fargo/internal/agent/podworker/status"
	"github.com/fargo-dev/fargo/internal/agent/podworker/volumes"
	"github.com/fargo-dev/fargo/internal/runtime"
)

// Placement is where a pod runs: what its worker needs of its node.
type Placement struct {
	// SandboxID is the runtime sandbox holding the pod's containers.
	SandboxID string
	// PodIP is the pod's address; HostIP its node's (the same on Fargate).
	PodIP, HostIP string
	NodeName      string
	// Allocatable is the node's (on Fargate, the provisioned size): what the
	// downward API gives for a limit a container does not set.
	Allocatable corev1.ResourceList
}

// Config is what a Worker works with.
type Config struct {
	// Client is cached (pods, services); Reader is not (ConfigMaps, Secrets).
	Client   client.Client
	Reader   client.Reader
	Recorder record.EventRecorder
	Runtime  runtime.Runtime
	Clock    clock.WithTicker
	DNS      dns.Config
	// Dir holds the pods' volumes, under Dir/<uid>.
	Dir string
	// Wake asks for the pod in sandbox id to be synced again soon (a probe
	// result changed, a killed container exited).
	Wake func(sandboxID string)
}

// Worker runs the pods of one host.
type Worker struct {
	cfg      Config
	ctx      context.Context // the agent's lifetime, for work that outlives a sync
	probes   *prober.Prober
	handlers *prober.Handlers
	volumes  *volumes.Manager
	env      *envvars.Resolver
	images   *images.Puller
	status   *status.Writer
	// killing and preStopped hold container IDs being killed after a failed probe
	// and those whose preStop hook has run.
	killing, preStopped sync.Map
}

// New returns a worker whose background work (probes, kills) ends with ctx.
func New(ctx context.Context, cfg Config) (*Worker, error) {
	if cfg.Client == nil || cfg.Reader == nil || cfg.Recorder == nil || cfg.Runtime == nil || cfg.Dir == "" {
		return nil, errors.New("pod worker: client, reader, recorder, runtime and dir are all needed")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Wake == nil {
		cfg.Wake = func(string) {}
	}
	w := &Worker{cfg: cfg, ctx: ctx,
		handlers: &prober.Handlers{Runtime: cfg.Runtime, Clock: cfg.Clock},
		volumes:  &volumes.Manager{Dir: cfg.Dir, Reader: cfg.Reader, Client: cfg.Client, Clock: cfg.Clock},
		env:      &envvars.Resolver{Services: cfg.Client, Reader: cfg.Reader},
		images:   &images.Puller{Runtime: cfg.Runtime, Reader: cfg.Reader, Recorder: cfg.Recorder},
		status:   &status.Writer{Client: cfg.Client},
	}
	w.probes = prober.New(ctx, cfg.Clock, w.handlers.Probe, cfg.Wake, func(t prober.Target, kind prober.Kind, out string) {
		w.event(t.Pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, out)
	})
	return w, nil
}

// Files are the hosts, hostname and resolv.conf the pod's containers see, for
// its runtime sandbox.
func (a *Worker) Files(pod *corev1.Pod, ip string) (runtime.PodFiles, error) {
	return a.cfg.DNS.Files(pod, ip)
}

// Hostname is the pod's hostname.
func Hostname(pod *corev1.Pod) string { return dns.Hostname(pod) }

// StopProbes ends the probe workers of pod uid.
func (a *Worker) StopProbes(uid types.UID) { a.probes.Stop(uid, "") }

// Forget drops everything the worker kept for pod uid once its sandbox is
// gone: probe workers, tokens, volumes.
func (a *Worker) Forget(uid types.UID) error {
	a.probes.Stop(uid, "")
	if err := a.volumes.Remove(uid); err != nil {
		return fmt.Errorf("removing volumes of pod %s under %s: %w", uid, filepath.Join(a.cfg.Dir, string(uid)), err)
	}
	return nil
}

func (a *Worker) event(pod *corev1.Pod, kind, reason, format string, args ...any) {
	a.cfg.Recorder.Eventf(pod, kind, reason, format, args...)
}
