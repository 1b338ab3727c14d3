package kubeletapi

import (
	"context"
	"io"
	"net/http"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/portforward"

	"github.com/fargo-dev/fargo/internal/runtime"
)

// streamIdleTimeout and streamCreationTimeout are kubelet's defaults for
// streaming connections.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

// portForward forwards the client's streams to ports on the pod's loopback
// (SPDY or WebSocket, as kubelet's /portForward speaks them).
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	pod := r.PathValue("pod")
	opts, err := portforward.NewV4Options(r)
	sandbox, ok := s.sandboxFor(w, r, err)
	if !ok {
		return
	}
	portforward.ServePortForward(w, r, forwarder{s.runtime, sandbox}, pod, r.PathValue("uid"), opts,
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// forwarder forwards to one sandbox's ports.
type forwarder struct {
	rt      runtime.Runtime
	sandbox string
}

func (f forwarder) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	return f.rt.PortForward(ctx, f.sandbox, port, stream)
}
