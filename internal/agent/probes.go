package agent

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubernetes/pkg/probe"
)

// Probes work as kubelet's prober: one worker per container and probe, on the
// probe's own period, started when the container is and replaced when a new
// container takes its place. A worker settles a result after successThreshold
// successes or failureThreshold failures in a row and wakes the sandbox's
// reconcile when it changes; syncPod reads the results into the container's
// started and ready fields and kills a container whose liveness or startup probe
// failed.

type probeType string

const (
	liveness  probeType = "Liveness"
	readiness probeType = "Readiness"
	startup   probeType = "Startup"
)

type probeKey struct {
	pod       types.UID
	container string
	kind      probeType
}

// probeTarget is the container a worker probes.
type probeTarget struct {
	pod         *corev1.Pod
	container   *corev1.Container
	sandbox     string
	podIP       string
	containerID string
	started     time.Time
}

type probeWorker struct {
	containerID string
	result      probe.Result
	stop        context.CancelFunc
}

// probeRunner runs one probe once.
type probeRunner func(ctx context.Context, t probeTarget, spec *corev1.Probe) (probe.Result, string)

type prober struct {
	run probeRunner
	// changed wakes the sandbox's reconcile; failed reports a failed probe (an
	// Unhealthy event).
	changed func(sandbox string)
	failed  func(t probeTarget, kind probeType, output string)

	mu      sync.Mutex
	workers map[probeKey]*probeWorker
}

func newProber(run probeRunner, changed func(string), failed func(probeTarget, probeType, string)) *prober {
	return &prober{run: run, changed: changed, failed: failed, workers: map[probeKey]*probeWorker{}}
}

// probeState is what a running container's probes say now.
type probeState struct {
	started, ready bool
	// failed names the probe (liveness, startup) whose failure means the
	// container must be killed; "" when none.
	failed probeType
}

// sync starts workers for t's probes (replacing those of an earlier container)
// and returns the settled results.
func (p *prober) sync(t probeTarget) probeState {
	specs := map[probeType]*corev1.Probe{startup: t.container.StartupProbe, liveness: t.container.LivenessProbe, readiness: t.container.ReadinessProbe}
	results := map[probeType]probe.Result{}
	p.mu.Lock()
	for kind, spec := range specs {
		if spec == nil {
			continue
		}
		key := probeKey{t.pod.UID, t.container.Name, kind}
		w := p.workers[key]
		if w == nil || w.containerID != t.containerID {
			if w != nil {
				w.stop()
			}
			ctx, cancel := context.WithCancel(context.Background())
			w = &probeWorker{containerID: t.containerID, result: initialResult(kind), stop: cancel}
			p.workers[key] = w
			go p.work(ctx, key, w, t, spec)
		}
		results[kind] = w.result
	}
	p.mu.Unlock()

	var s probeState
	s.started = specs[startup] == nil || results[startup] == probe.Success
	s.ready = s.started && (specs[readiness] == nil || results[readiness] == probe.Success)
	switch {
	case results[startup] == probe.Failure:
		s.failed = startup
	case s.started && results[liveness] == probe.Failure:
		s.failed = liveness
	}
	return s
}

// initialResult is a probe's result before it has settled: not ready, alive,
// not started.
func initialResult(kind probeType) probe.Result {
	switch kind {
	case readiness:
		return probe.Failure
	case liveness:
		return probe.Success
	}
	return probe.Unknown
}

// work probes until ctx ends; a startup probe stops once it succeeds, a
// liveness or startup probe once it fails (the container is then replaced).
func (p *prober) work(ctx context.Context, key probeKey, w *probeWorker, t probeTarget, spec *corev1.Probe) {
	if delay := time.Until(t.started.Add(seconds(spec.InitialDelaySeconds, 0))); delay > 0 && !sleepCtx(ctx, delay) {
		return
	}
	if key.kind != startup && t.container.StartupProbe != nil && !p.waitStarted(ctx, t) {
		return
	}
	tick := time.NewTicker(seconds(spec.PeriodSeconds, 10))
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
				p.changed(t.sandbox)
			}
			if (key.kind == startup && settled == probe.Success) || (key.kind != readiness && settled == probe.Failure) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// waitStarted holds liveness and readiness probes until the container's startup
// probe has succeeded, as kubelet does.
func (p *prober) waitStarted(ctx context.Context, t probeTarget) bool {
	key := probeKey{t.pod.UID, t.container.Name, startup}
	for {
		p.mu.Lock()
		w := p.workers[key]
		ok := w != nil && w.containerID == t.containerID && w.result == probe.Success
		p.mu.Unlock()
		if ok {
			return true
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return false
		}
	}
}

// stop ends the workers of one container ("" for all of the pod's).
func (p *prober) stop(pod types.UID, container string) {
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

// sleepCtx sleeps for d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
