// Package prober runs a container's probes and lifecycle hooks as kubelet's
// prober does: one worker per container and probe, on the probe's own period,
// started when the container is and replaced when a new container takes its
// place; HTTP, TCP and gRPC through kubelet's own probers, exec through the
// runtime.
package prober

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/probe"
	"k8s.io/utils/clock"
)

// A worker settles a result after successThreshold
// successes or failureThreshold failures in a row and wakes the sandbox's
// reconcile when it changes; the pod worker reads the results into the container's
// started and ready fields and kills a container whose liveness or startup probe
// failed.

// Kind is a probe's kind.
type Kind string

// Probe kinds.
const (
	Liveness  Kind = "Liveness"
	Readiness Kind = "Readiness"
	Startup   Kind = "Startup"
)

type probeKey struct {
	pod       types.UID
	container string
	kind      Kind
}

// Target is the container run a worker probes.
type Target struct {
	Pod         *corev1.Pod
	Container   *corev1.Container
	Sandbox     string
	PodIP       string
	ContainerID string
	Started     time.Time
}

type probeWorker struct {
	containerID string
	result      probe.Result
	stop        context.CancelFunc
}

// Runner runs one probe once.
type Runner func(ctx context.Context, t Target, spec *corev1.Probe) (probe.Result, string)

// Prober keeps the probe workers of one host.
type Prober struct {
	ctx   context.Context // the agent's lifetime: workers end with it
	clock clock.WithTicker
	run   Runner
	// changed wakes the sandbox's reconcile; failed reports a failed probe (an
	// Unhealthy event).
	changed func(sandbox string)
	failed  func(t Target, kind Kind, output string)

	mu      sync.Mutex
	workers map[probeKey]*probeWorker
}

// New returns a prober whose workers live at most as long as ctx; changed wakes
// the sandbox of a container whose result changed, failed reports a failed probe.
func New(ctx context.Context, clk clock.WithTicker, run Runner, changed func(sandbox string), failed func(Target, Kind, string)) *Prober {
	return &Prober{ctx: ctx, clock: clk, run: run, changed: changed, failed: failed, workers: map[probeKey]*probeWorker{}}
}

// State is what a running container's probes say now.
type State struct {
	Started, Ready bool
	// Failed names the probe (liveness, startup) whose failure means the
	// container must be killed; "" when none.
	Failed Kind
}

// Sync starts workers for t's probes (replacing those of an earlier container)
// and returns the settled results.
func (p *Prober) Sync(t Target) State {
	specs := map[Kind]*corev1.Probe{Startup: t.Container.StartupProbe, Liveness: t.Container.LivenessProbe, Readiness: t.Container.ReadinessProbe}
	results := map[Kind]probe.Result{}
	p.mu.Lock()
	for kind, spec := range specs {
		if spec == nil {
			continue
		}
		key := probeKey{t.Pod.UID, t.Container.Name, kind}
		w := p.workers[key]
		if w == nil || w.containerID != t.ContainerID {
			if w != nil {
				w.stop()
			}
			ctx, cancel := context.WithCancel(p.ctx)
			w = &probeWorker{containerID: t.ContainerID, result: initialResult(kind), stop: cancel}
			p.workers[key] = w
			go p.work(ctx, key, w, t, spec)
		}
		results[kind] = w.result
	}
	p.mu.Unlock()

	var s State
	s.Started = specs[Startup] == nil || results[Startup] == probe.Success
	s.Ready = s.Started && (specs[Readiness] == nil || results[Readiness] == probe.Success)
	switch {
	case results[Startup] == probe.Failure:
		s.Failed = Startup
	case s.Started && results[Liveness] == probe.Failure:
		s.Failed = Liveness
	}
	return s
}

// initialResult is a probe's result before it has settled: not ready, alive,
// not started.
func initialResult(kind Kind) probe.Result {
	switch kind {
	case Readiness:
		return probe.Failure
	case Liveness:
		return probe.Success
	}
	return probe.Unknown
}

// work probes until ctx ends; a startup probe stops once it succeeds, a
// liveness or startup probe once it fails (the container is then replaced).
func (p *Prober) work(ctx context.Context, key probeKey, w *probeWorker, t Target, spec *corev1.Probe) {
	if delay := t.Started.Add(seconds(spec.InitialDelaySeconds, 0)).Sub(p.clock.Now()); delay > 0 && !p.sleep(ctx, delay) {
		return
	}
	if key.kind != Startup && t.Container.StartupProbe != nil && !p.waitStarted(ctx, t) {
		return
	}
	tick := p.clock.NewTicker(seconds(spec.PeriodSeconds, 10))
	defer tick.Stop()
	successes, failures := 0, 0
	for {
		res, out := p.run(ctx, t, spec)
		if ctx.Err() != nil {
			return
		}
		var settled probe.Result
		if res == probe.Success || res == probe.Warning {
			successes, failures = successes+1, 0
			if successes >= threshold(spec.SuccessThreshold) {
				settled = probe.Success
			}
		} else {
			successes, failures = 0, failures+1
			p.failed(t, key.kind, out)
			if failures >= threshold(spec.FailureThreshold) {
				settled = probe.Failure
			}
		}
		if settled != "" {
			p.mu.Lock()
			change := w.result != settled
			w.result = settled
			p.mu.Unlock()
			if change {
				p.changed(t.Sandbox)
			}
			if (key.kind == Startup && settled == probe.Success) || (key.kind != Readiness && settled == probe.Failure) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

// waitStarted holds Liveness and readiness probes until the container's startup
// probe has succeeded, as kubelet does.
func (p *Prober) waitStarted(ctx context.Context, t Target) bool {
	key := probeKey{t.Pod.UID, t.Container.Name, Startup}
	for {
		p.mu.Lock()
		w := p.workers[key]
		ok := w != nil && w.containerID == t.ContainerID && w.result == probe.Success
		p.mu.Unlock()
		if ok {
			return true
		}
		if !p.sleep(ctx, 200*time.Millisecond) {
			return false
		}
	}
}

// Stop ends the workers of one container ("" for all of the pod's).
func (p *Prober) Stop(pod types.UID, container string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, w := range p.workers {
		if key.pod == pod && (container == "" || key.container == container) {
			w.stop()
			delete(p.workers, key)
		}
	}
}

func seconds(s int32, def int32) time.Duration {
	if s <= 0 {
		s = def
	}
	return time.Duration(s) * time.Second
}

func threshold(n int32) int {
	return max(int(n), 1)
}

// sleep sleeps for d; false if ctx ended first.
func (p *Prober) sleep(ctx context.Context, d time.Duration) bool {
	return sleepOn(ctx, p.clock, d)
}

func sleepOn(ctx context.Context, clk clock.WithTicker, d time.Duration) bool {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
