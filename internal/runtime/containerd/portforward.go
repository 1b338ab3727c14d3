package containerd

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/fargo-dev/fargo/internal/network/netns"
)

// PortForward implements runtime.Runtime: the connection is made from inside
// the sandbox's network namespace to its loopback, as containerd's CRI does.
func (r *Runtime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	sb, err := r.loadSandbox(sandboxID)
	if err != nil {
		return err
	}
	c, err := dialIn(ctx, sb.NetnsPath, net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("port-forward to port %d of sandbox %s: %w", port, sandboxID, err)
	}
	defer c.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(c, stream); _ = c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, c); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// dialIn dials addr from the network namespace at path.
func dialIn(ctx context.Context, path, addr string) (c net.Conn, err error) {
	err = netns.Do(path, func() error {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}
