package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/probe"
	grpcprobe "k8s.io/kubernetes/pkg/probe/grpc"
	httpprobe "k8s.io/kubernetes/pkg/probe/http"
	tcpprobe "k8s.io/kubernetes/pkg/probe/tcp"
	"k8s.io/utils/clock"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// Probes and lifecycle hooks reach a container the ways kubelet does: exec
// through the runtime, HTTP GET and TCP connects to the pod IP (routed from the
// host), gRPC health checks; kubelet's own probers (k8s.io/kubernetes/pkg/probe)
// do the network ones.

var (
	httpProber = httpprobe.New(false)
	tcpProber  = tcpprobe.New()
	grpcProber = grpcprobe.New()
)

// Handlers reach containers for probes and hooks.
type Handlers struct {
	Runtime runtime.Runtime
	Clock   clock.WithTicker
}

// Probe runs spec once against t within the probe's timeout.
func (a *Handlers) Probe(ctx context.Context, t Target, spec *corev1.Probe) (probe.Result, string) {
	timeout := seconds(spec.TimeoutSeconds, 1)
	podIP := t.PodIP
	var (
		res probe.Result
		out string
		err error
	)
	switch h := spec.ProbeHandler; {
	case h.Exec != nil:
		res, out, err = a.execProbe(ctx, t, h.Exec.Command, timeout)
	case h.HTTPGet != nil:
		req, rerr := httpprobe.NewRequestForHTTPGetAction(h.HTTPGet, t.Container, podIP, "probe")
		if rerr != nil {
			return probe.Failure, rerr.Error()
		}
		res, out, err = httpProber.Probe(req, timeout)
	case h.TCPSocket != nil:
		port, perr := probe.ResolveContainerPort(h.TCPSocket.Port, t.Container)
		if perr != nil {
			return probe.Failure, perr.Error()
		}
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		res, out, err = tcpProber.Probe(host, port, timeout)
	case h.GRPC != nil:
		service := ""
		if h.GRPC.Service != nil {
			service = *h.GRPC.Service
		}
		res, out, err = grpcProber.Probe(podIP, service, int(h.GRPC.Port), timeout, grpcprobe.ProbeOptions{})
	default:
		return probe.Failure, "probe has no handler"
	}
	if err != nil {
		return probe.Failure, err.Error()
	}
	return res, out
}

func (a *Handlers) execProbe(ctx context.Context, t Target, cmd []string, timeout time.Duration) (probe.Result, string, error) {
	r, err := runtime.ExecOutput(ctx, a.Runtime, t.Sandbox, t.Container.Name, cmd, timeout)
	if err != nil {
		return probe.Failure, "", err
	}
	out := strings.TrimSpace(string(r.Output))
	if r.ExitCode != 0 {
		return probe.Failure, fmt.Sprintf("command %q exited with %d: %s", strings.Join(cmd, " "), r.ExitCode, out), nil
	}
	return probe.Success, out, nil
}

// Hook runs a postStart or preStop handler and waits at most timeout.
func (a *Handlers) Hook(ctx context.Context, t Target, h *corev1.LifecycleHandler, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		res probe.Result
		out string
		err error
	)
	switch {
	case h.Exec != nil:
		res, out, err = a.execProbe(ctx, t, h.Exec.Command, timeout)
	case h.HTTPGet != nil:
		req, rerr := httpprobe.NewRequestForHTTPGetAction(h.HTTPGet, t.Container, t.PodIP, "lifecycle")
		if rerr != nil {
			return rerr
		}
		res, out, err = httpProber.Probe(req, timeout)
	case h.Sleep != nil:
		if !sleepOn(ctx, a.Clock, time.Duration(h.Sleep.Seconds)*time.Second) {
			return ctx.Err()
		}
		return nil
	default:
		return errors.New("handler has no action")
	}
	if err != nil {
		return err
	}
	if res == probe.Failure {
		return errors.New(out)
	}
	return nil
}
