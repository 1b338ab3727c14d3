package kubeletapi

import (
	"context"
	"io"
	"net/http"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
)

// attach connects a client to a running container, as kubectl attach and
// kubectl run -i do: its output from now on, its stdin (for containers with
// stdin: true) and its terminal.
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

// attacher attaches to one sandbox's containers.
type attacher struct {
	s       *Server
	sandbox string
}

func (a attacher) AttachContainer(ctx context.Context, _, _, container string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return a.s.runtime.Attach(ctx, a.sandbox, container, streams(ctx, in, out, errOut, tty, resize))
}
