package kubeletapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/util/flushwriter"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-client/pkg/logs"
	corev1conv "k8s.io/kubernetes/pkg/apis/core/v1"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// containerLogs serves a container's output as kubelet does, with kubelet's own
// reader of CRI-format logs (the runtime writes them): previous, tailLines,
// limitBytes, sinceSeconds, sinceTime, timestamps and follow (until the
// container exits or the client goes).
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, err := podLogOptions(r)
	if err == nil {
		err = s.writeLogs(r.Context(), w, r, ns, pod, container, opts)
	}
	if err != nil {
		httpError(w, err)
	}
}

// podLogOptions decodes the query as kubelet does (v1 PodLogOptions, with the
// API's generated conversion; "tail" kept for old clients).
func podLogOptions(r *http.Request) (*corev1.PodLogOptions, error) {
	q := r.URL.Query()
	if tail := q.Get("tail"); tail != "" {
		q.Set("tailLines", tail)
		if tail == "all" {
			q.Del("tailLines")
		}
	}
	opts := &corev1.PodLogOptions{}
	if err := corev1conv.Convert_url_Values_To_v1_PodLogOptions(&q, opts, nil); err != nil {
		return nil, badRequest{fmt.Errorf("decoding log options: %w", err)}
	}
	// As kubelet validates: tailLines may be 0, the others must be positive.
	for name, v := range map[string]*int64{"tailLines": opts.TailLines, "limitBytes": opts.LimitBytes, "sinceSeconds": opts.SinceSeconds} {
		least := int64(1)
		if name == "tailLines" {
			least = 0
		}
		if v != nil && *v < least {
			return nil, badRequest{fmt.Errorf("query parameter %s=%d: want an integer of at least %d", name, *v, least)}
		}
	}
	if opts.SinceSeconds != nil && opts.SinceTime != nil {
		return nil, badRequest{fmt.Errorf("sinceSeconds and sinceTime: at most one may be set")}
	}
	return opts, nil
}

func (s *Server) writeLogs(ctx context.Context, w http.ResponseWriter, r *http.Request, ns, pod, container string, opts *corev1.PodLogOptions) error {
	sandbox, err := s.pods(ctx, nodeOf(r), ns, pod)
	if err != nil {
		return err
	}
	attempt := s.attempt(ctx, sandbox, container) // follow stops when it is no longer running
	path, err := s.runtime.ContainerLog(ctx, sandbox, container, opts.Previous)
	if err != nil {
		return fmt.Errorf("logs of container %s in pod %s/%s: %w", container, ns, pod, err)
	}
	running := func(ctx context.Context) bool {
		return !opts.Previous && attempt >= 0 && s.attempt(ctx, sandbox, container) == attempt
	}
	stdout, stderr, err := logWriters(w, opts.Stream)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain")
	return readLogs(ctx, path, readOptions(opts, time.Now()), running, stdout, stderr)
}

// logWriters are where each stream of the log goes, as kubelet writes them:
// to the response, flushed at every write (chunked, as a follow streams: the
// apiserver's websocket log reader got an empty stream from a response with a
// length), for the streams asked (stream: All, Stdout or Stderr; All when unset).
func logWriters(w http.ResponseWriter, stream *string) (stdout, stderr io.Writer, err error) {
	fw := flushwriter.Wrap(w)
	switch {
	case stream == nil || *stream == corev1.LogStreamAll:
		return fw, fw, nil
	case *stream == corev1.LogStreamStdout:
		return fw, nil, nil
	case *stream == corev1.LogStreamStderr:
		return nil, fw, nil
	}
	return nil, nil, badRequest{fmt.Errorf("invalid stream type %q: want All, Stdout or Stderr", *stream)}
}

// readOptions converts the API's options as kubelet does.
func readOptions(o *corev1.PodLogOptions, now time.Time) *logs.LogOptions {
	opts := &logs.LogOptions{TailLines: o.TailLines, LimitBytes: o.LimitBytes, Follow: o.Follow, Timestamp: o.Timestamps}
	if o.SinceSeconds != nil {
		opts.Since = now.Add(-time.Duration(*o.SinceSeconds) * time.Second)
	}
	if o.SinceTime != nil && o.SinceTime.After(opts.Since) {
		opts.Since = o.SinceTime.Time
	}
	return opts
}

// readLogs copies a CRI-format log to stdout and stderr with kubelet's reader;
// running tells a follow whether to wait for more.
func readLogs(ctx context.Context, path string, opts *logs.LogOptions, running func(context.Context) bool, stdout, stderr io.Writer) error {
	if err := logs.ReadLogs(ctx, path, "container", opts, runningCheck{running: running}, stdout, stderr); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading log %s: %w", path, err)
	}
	return nil
}

// runningCheck answers kubelet's log reader, which asks the CRI runtime
// whether a followed container still runs. ReadLogs calls nothing else: the
// embedded interface is left nil.
type runningCheck struct {
	internalapi.RuntimeService
	running func(context.Context) bool
}

func (c runningCheck) ContainerStatus(ctx context.Context, _ string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	state := runtimeapi.ContainerState_CONTAINER_EXITED
	if c.running(ctx) {
		state = runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{State: state}}, nil
}

// attempt is the run of the container that is running now; -1 when none is.
func (s *Server) attempt(ctx context.Context, sandbox, container string) int {
	list, err := s.runtime.Containers(ctx, sandbox)
	if err != nil {
		return -1
	}
	for _, c := range list {
		if c.Name == container && c.State == runtime.StateRunning {
			return c.Attempt
		}
	}
	return -1
}
