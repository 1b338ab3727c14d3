package kubeletapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// exec runs a command in a container with the client's streams attached (SPDY or
// WebSocket, as kubelet's streaming server speaks them).
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	pod, container := r.PathValue("pod"), r.PathValue("container")
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		httpError(w, badRequest{fmt.Errorf("exec: no command")})
		return
	}
	opts, err := remotecommand.NewOptions(r)
	sandbox, ok := s.sandboxFor(w, r, err)
	if !ok {
		return
	}
	remotecommand.ServeExec(w, r, executor{s.runtime, sandbox}, pod, r.PathValue("uid"), container, cmd, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// executor runs commands in one sandbox's containers.
type executor struct {
	rt      runtime.Runtime
	sandbox string
}

func (e executor) ExecInContainer(ctx context.Context, _ string, _ string, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser,
	tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	s := streams(ctx, in, out, errOut, tty, resize)
	code, err := e.rt.Exec(ctx, e.sandbox, container, cmd, s)
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// streams are the runtime's view of a streaming request's: nil interfaces for
// the streams the client did not open, terminal sizes converted.
func streams(ctx context.Context, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) runtime.Streams {
	s := runtime.Streams{TTY: tty}
	if in != nil {
		s.Stdin = in
	}
	if out != nil {
		s.Stdout = out
	}
	if errOut != nil {
		s.Stderr = errOut
	}
	if resize != nil {
		sizes := make(chan runtime.TerminalSize)
		go func() {
			defer close(sizes)
			for sz := range resize {
				select {
				case sizes <- runtime.TerminalSize{Width: sz.Width, Height: sz.Height}:
				case <-ctx.Done():
					return
				}
			}
		}()
		s.Resize = sizes
	}
	return s
}
