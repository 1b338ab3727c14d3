package kubeletapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"k8s.io/cri-client/pkg/logs"
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
	if out == nil && errOut == nil {
		<-ctx.Done()
		return nil
	}
	// From the end of the log on (no lines before now), until it exits.
	none := int64(0)
	running := func(ctx context.Context) bool { return a.s.attempt(ctx, a.sandbox, container) == attempt }
	return readLogs(ctx, path, &logs.LogOptions{TailLines: &none, Follow: true}, running, orDiscard(out), orDiscard(errOut))
}

// orDiscard is w, or io.Discard for a stream the client did not ask for.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
