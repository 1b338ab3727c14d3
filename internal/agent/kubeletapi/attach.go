package kubeletapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// attach streams a running container's output from now on, as kubectl attach
// shows it. The runtime writes a container's output to its log file and gives
// it no stdin, so attaching stdin is refused, saying so.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	pod, container := r.PathValue("pod"), r.PathValue("container")
	opts, err := remotecommand.NewOptions(r)
	sandbox, ok := s.sandboxFor(w, r, err)
	if !ok {
		return
	}
	remotecommand.ServeAttach(w, r, attacher{s, sandbox}, pod, r.PathValue("uid"), container, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// attacher follows one sandbox's container output.
type attacher struct {
	s       *Server
	sandbox string
}

// errNoStdin refuses kubectl attach -i and kubectl run -i on Fargate pods.
var errNoStdin = errors.New("attaching stdin is not supported on Fargate nodes: the container's input is not kept open; use kubectl exec -it")

func (a attacher) AttachContainer(ctx context.Context, _, _, container string, in io.Reader, out, errOut io.WriteCloser, _ bool, _ <-chan remotecommand.TerminalSize) error {
	if in != nil {
		return errNoStdin
	}
	attempt := a.s.attempt(ctx, a.sandbox, container)
	if attempt < 0 {
		return fmt.Errorf("container %s is not running: %w", container, runtime.ErrNotFound)
	}
	path, err := a.s.runtime.ContainerLog(ctx, a.sandbox, container, false)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("attaching to container %s: %w", container, err)
	}
	defer f.Close()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	if out == nil {
		out = errOut
	}
	if out == nil {
		<-ctx.Done()
		return nil
	}
	for {
		if _, err := io.Copy(out, f); err != nil {
			return nil // the client went
		}
		if a.s.attempt(ctx, a.sandbox, container) != attempt {
			_, _ = io.Copy(out, f)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}
